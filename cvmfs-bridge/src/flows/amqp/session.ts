// One RabbitMQ connection for the flows, re-established after any loss (broker restart,
// network): each consumer gets its own confirm channel with its prefetch, its durable queue
// and dead-letter queue declared again on every connect. A delivery can be acked only on
// the channel that brought it; after a reconnect the broker redelivers what was not acked,
// so an ack that could not be sent costs a harmless duplicate, never a lost event.
import amqp, { type ChannelModel, type ConfirmChannel, type ConsumeMessage, type Options } from 'amqplib';
import type { Logger } from 'pino';
import type { AmqpConfig } from '../config.js';
import { errorMessage, FlowError } from '../errors.js';

export interface Delivery {
  readonly message: ConsumeMessage;
  readonly channel: ConfirmChannel;
  readonly consumer: string;
}

export interface ConsumerSpec {
  readonly name: string;
  readonly queue: string;
  readonly deadLetterQueue: string;
  readonly prefetch: number;
  /** Extra declarations (exchanges, bindings) run on each new channel before consuming. */
  readonly setup?: (channel: ConfirmChannel) => Promise<void>;
  readonly onMessage: (delivery: Delivery) => void;
  /** Called when the consumer's channel is lost: pending deliveries of it are void. */
  readonly onChannelLost?: () => void;
}

/** The original message's own properties, kept on its dead-lettered copy. */
function copiedProperties(message: ConsumeMessage): Options.Publish {
  const p = message.properties;
  const out: Options.Publish = { contentType: p.contentType ?? 'application/octet-stream' };
  if (p.correlationId) out.correlationId = p.correlationId;
  if (p.messageId) out.messageId = p.messageId;
  if (p.replyTo) out.replyTo = p.replyTo;
  if (p.type) out.type = p.type;
  if (p.appId) out.appId = p.appId;
  if (p.timestamp) out.timestamp = p.timestamp;
  return out;
}

export class AmqpSession {
  private connection: ChannelModel | undefined;
  private readonly channels = new Map<string, ConfirmChannel>();
  private readonly consumers: ConsumerSpec[] = [];
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  private delayMs: number;
  reconnects = 0;
  private connects = 0;

  constructor(
    private readonly config: AmqpConfig,
    private readonly logger: Logger,
  ) {
    this.delayMs = config.reconnectInitialMs;
  }

  addConsumer(spec: ConsumerSpec): void {
    this.consumers.push(spec);
  }

  get connected(): boolean {
    return this.connection !== undefined;
  }

  /** Starts connecting in the background (a broker that is down is retried forever). */
  start(): void {
    void this.connect();
  }

  private url(): string {
    const url = new URL(this.config.url);
    if (!url.searchParams.has('heartbeat'))
      url.searchParams.set('heartbeat', String(this.config.heartbeatSeconds));
    return url.toString();
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    let connection: ChannelModel;
    try {
      connection = await amqp.connect(this.url());
    } catch (error) {
      this.logger.warn({ retryMs: this.delayMs }, `RabbitMQ unreachable: ${errorMessage(error)}`);
      this.schedule();
      return;
    }
    if (this.stopped) {
      await connection.close().catch(() => {});
      return;
    }
    this.connection = connection;
    connection.on('error', (error: Error) => this.logger.warn(`RabbitMQ connection error: ${error.message}`));
    connection.on('close', () => this.lost(connection));
    try {
      for (const spec of this.consumers) await this.open(connection, spec);
    } catch (error) {
      this.logger.warn(`RabbitMQ setup failed: ${errorMessage(error)}`);
      await connection.close().catch(() => {});
      return;
    }
    this.delayMs = this.config.reconnectInitialMs;
    if (this.connects++ > 0) this.reconnects++;
    this.logger.info({ reconnects: this.reconnects }, 'RabbitMQ connected');
  }

  private async open(connection: ChannelModel, spec: ConsumerSpec): Promise<void> {
    const channel = await connection.createConfirmChannel();
    channel.on('error', (error: Error) => this.logger.warn(`channel ${spec.name}: ${error.message}`));
    // A channel closed by the broker (e.g. a precondition failure) resets the whole connection.
    channel.on('close', () => {
      if (this.channels.get(spec.name) === channel) {
        this.channels.delete(spec.name);
        spec.onChannelLost?.();
        if (this.connection === connection) void connection.close().catch(() => {});
      }
    });
    await channel.assertQueue(spec.deadLetterQueue, { durable: true });
    await channel.assertQueue(spec.queue, { durable: true });
    await spec.setup?.(channel);
    await channel.prefetch(spec.prefetch);
    this.channels.set(spec.name, channel);
    await channel.consume(
      spec.queue,
      (message) => {
        if (message) spec.onMessage({ message, channel, consumer: spec.name });
      },
      { noAck: false },
    );
  }

  private lost(connection: ChannelModel): void {
    if (this.connection !== connection) return;
    this.connection = undefined;
    for (const spec of this.consumers) {
      if (this.channels.delete(spec.name)) spec.onChannelLost?.();
    }
    if (this.stopped) return;
    this.logger.warn({ retryMs: this.delayMs }, 'RabbitMQ connection lost; reconnecting');
    this.schedule();
  }

  private schedule(): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.connect(), this.delayMs);
    this.delayMs = Math.min(this.delayMs * 2, this.config.reconnectMaxMs);
  }

  /** True when the delivery's channel is still the live one (an ack would reach the broker). */
  isLive(delivery: Delivery): boolean {
    return this.channels.get(delivery.consumer) === delivery.channel;
  }

  ack(delivery: Delivery): boolean {
    if (!this.isLive(delivery)) return false;
    delivery.channel.ack(delivery.message);
    return true;
  }

  /** Publishes on the consumer's channel and waits for the broker's confirm. */
  async publish(
    consumer: string,
    exchange: string,
    routingKey: string,
    body: Buffer,
    options: Options.Publish = {},
  ): Promise<void> {
    const channel = this.channels.get(consumer);
    if (!channel) throw new FlowError('AMQP_FAILED', 'not connected to RabbitMQ');
    await new Promise<void>((resolve, reject) => {
      channel.publish(exchange, routingKey, body, { persistent: true, ...options }, (error: unknown) =>
        error
          ? reject(new FlowError('AMQP_FAILED', `publish not confirmed: ${errorMessage(error)}`))
          : resolve(),
      );
    });
  }

  /** Moves a delivery to the dead-letter queue with its reason, then acks it. */
  async deadLetter(delivery: Delivery, deadLetterQueue: string, code: string, reason: string): Promise<void> {
    const { message } = delivery;
    await this.publish(delivery.consumer, '', deadLetterQueue, message.content, {
      headers: {
        ...(message.properties.headers ?? {}),
        'x-tsw-reject-code': code,
        'x-tsw-reject-reason': reason.slice(0, 1000),
        'x-tsw-original-queue': message.fields.routingKey,
      },
      ...copiedProperties(message),
    });
    this.ack(delivery);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    const connection = this.connection;
    this.connection = undefined;
    this.channels.clear();
    await connection?.close().catch(() => {});
  }
}
