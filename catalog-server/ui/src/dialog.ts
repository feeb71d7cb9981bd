// The confirmation step: a modal <dialog> (Esc cancels, focus stays inside) that states what
// will happen before anything is written.
import { type Child, h } from './dom.js';

export function confirmAction(title: string, body: Child, confirmLabel: string): Promise<boolean> {
  return new Promise((resolve) => {
    const ok = h('button', { type: 'submit', class: 'primary', value: 'ok' }, confirmLabel);
    const cancel = h('button', { type: 'submit', class: 'secondary', value: 'cancel' }, 'Cancel');
    const dialog = h(
      'dialog',
      { class: 'confirm', 'aria-labelledby': 'confirm-title' },
      h(
        'form',
        { method: 'dialog' },
        h('h2', { id: 'confirm-title' }, title),
        h('div', { class: 'confirm-body' }, body),
        h('div', { class: 'actions' }, cancel, ok),
      ),
    );
    dialog.addEventListener('close', () => {
      resolve(dialog.returnValue === 'ok');
      dialog.remove();
    });
    document.body.appendChild(dialog);
    dialog.showModal();
    cancel.focus();
  });
}
