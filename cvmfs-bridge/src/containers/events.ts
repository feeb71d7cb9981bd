// Progress of a conversion as JSON-lines events (start/end of image, layer, chain, flat tree
// and publish, with timings and sizes) and the Prometheus metrics the same steps update.
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

export type ProgressEvent =
  | { event: 'image.start'; reference: string; digest?: string }
  | {
      event: 'image.end';
      reference: string;
      digest: string;
      configDigest: string;
      seconds: number;
      changed: boolean;
      layersIngested: number;
      chainsBuilt: number;
      bytesDownloaded: number;
    }
  | { event: 'image.error'; reference: string; code: string; message: string; seconds: number }
  | { event: 'layer.start'; digest: string; sizeBytes: number }
  | {
      event: 'layer.end';
      digest: string;
      diffId: string;
      compression: string;
      compressedBytes: number;
      uncompressedBytes: number;
      entries: number;
      seconds: number;
    }
  | { event: 'layer.cached'; digest: string }
  | { event: 'chain.start'; chainId: string; index: number }
  | { event: 'chain.end'; chainId: string; index: number; rows: number; removed: number; seconds: number }
  | { event: 'chain.cached'; chainId: string; index: number }
  | { event: 'flat.start'; configDigest: string }
  | { event: 'flat.end'; configDigest: string; rows: number; seconds: number }
  | { event: 'publish.start' }
  | { event: 'publish.end'; revision: number; seconds: number }
  | { event: 'image.removed'; reference: string }
  | { event: 'gc.end'; removed: string[]; pending: number; revision?: number };

export type EventSink = (event: ProgressEvent & { ts: string }) => void;

export function emitter(sink: EventSink | undefined): (event: ProgressEvent) => void {
  return (event) => sink?.({ ts: new Date().toISOString(), ...event });
}

/** A sink writing one JSON object per line to a stream. */
export function jsonLinesSink(out: NodeJS.WritableStream): EventSink {
  return (event) => {
    out.write(`${JSON.stringify(event)}\n`);
  };
}

export class ContainerMetrics {
  readonly registry = new Registry();
  readonly images = new Counter({
    name: 'tsw_bridge_container_images_total',
    help: 'Image conversions by result (converted, unchanged, failed)',
    labelNames: ['result'],
    registers: [this.registry],
  });
  readonly layers = new Counter({
    name: 'tsw_bridge_container_layers_total',
    help: 'Layers ingested (converted) or reused (cached)',
    labelNames: ['result'],
    registers: [this.registry],
  });
  readonly layerBytes = new Counter({
    name: 'tsw_bridge_container_layer_bytes_total',
    help: 'Layer bytes ingested, compressed as downloaded and uncompressed',
    labelNames: ['kind'],
    registers: [this.registry],
  });
  readonly rejected = new Counter({
    name: 'tsw_bridge_container_rejections_total',
    help: 'Conversions refused, by error code',
    labelNames: ['code'],
    registers: [this.registry],
  });
  readonly convertSeconds = new Histogram({
    name: 'tsw_bridge_container_convert_seconds',
    help: 'Wall time of one image conversion including publish',
    buckets: [1, 5, 15, 60, 300, 900, 3600],
    registers: [this.registry],
  });
  readonly webhookEvents = new Counter({
    name: 'tsw_bridge_container_webhook_events_total',
    help: 'Registry webhook requests by source and outcome',
    labelNames: ['source', 'outcome'],
    registers: [this.registry],
  });
  readonly outboxDepth = new Gauge({
    name: 'tsw_bridge_container_outbox_pending',
    help: 'Webhook events waiting in the durable outbox',
    registers: [this.registry],
  });
}

/** One process-wide metrics set (prom-client metrics register once per registry). */
export const containerMetrics = new ContainerMetrics();
