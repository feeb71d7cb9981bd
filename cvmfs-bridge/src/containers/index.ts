// Public API of the container-image converter (import from here inside the package, e.g. the
// approved-content run loop; the package's src/index.ts may re-export it).
export {
  type ContainerConfig,
  ContainerConfigSchema,
  defaultContainerConfig,
  loadContainerConfig,
} from './config.js';
export {
  type ConvertContext,
  type ConvertRequest,
  type ConvertResult,
  convertImage,
  type ImageRecord,
} from './convert.js';
export { ContainerError, type ContainerErrorCode, isContainerError } from './errors.js';
export {
  ContainerMetrics,
  containerMetrics,
  type EventSink,
  jsonLinesSink,
  type ProgressEvent,
} from './events.js';
export { type ContainerGcReport, collectContainerGarbage } from './gc.js';
export { type ImageFootprint, LAYOUT_TREES, type Overlap, overlapWithImage } from './image-footprint.js';
export { ContainerLayout } from './layout.js';
export { chainIds } from './manifest.js';
export { formatReference, type ImageReference, parseReference } from './reference.js';
export { RegistryClient } from './registry-client.js';
export { removeImage } from './remove.js';
export {
  approvedOwner,
  ContainerState,
  type ImageOwner,
  type OwnedImage,
  openState,
  ownedImages,
  wishlistOwner,
} from './state.js';
export { serveWebhooks, type WebhookService } from './webhook-service.js';
export {
  type ApplyReport,
  applyWishlist,
  applyWishlistFile,
  parseWishlist,
  readWishlist,
  reconcileAll,
} from './wishlist.js';
