// Bucket notifications on the test Ceph RGW: an SNS topic pushing to a RabbitMQ exchange
// (RGW is the real producer of the events), attached to a bucket for the cvmfs/ prefix.

import { Agent } from 'node:http';
import { CreateBucketCommand, PutBucketNotificationConfigurationCommand, S3Client } from '@aws-sdk/client-s3';
import { CreateTopicCommand, SNSClient } from '@aws-sdk/client-sns';
import amqp from 'amqplib';
import type { RgwInstance } from '../../../../catalog-server/test/support/ceph-rgw.js';

/** An S3 client for the test RGW; `maxSockets` bounds its keep-alive connections (SDK default 50). */
export function s3Client(rgw: RgwInstance, maxSockets = 50): S3Client {
  return new S3Client({
    endpoint: rgw.endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: rgw.accessKeyId, secretAccessKey: rgw.secretAccessKey },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    requestHandler: { httpAgent: new Agent({ keepAlive: true, maxSockets }) },
  });
}

export async function declareExchange(amqpUrl: string, exchange: string): Promise<void> {
  const c = await amqp.connect(amqpUrl);
  const ch = await c.createChannel();
  await ch.assertExchange(exchange, 'topic', { durable: true });
  await c.close();
}

/** Creates `bucket` and sends its cvmfs/ events to `exchange` on the broker at `amqpPort`. */
export async function notifyingBucket(
  rgw: RgwInstance,
  opts: { bucket: string; topic: string; exchange: string; amqpPort: number; amqpUrl: string },
): Promise<void> {
  await declareExchange(opts.amqpUrl, opts.exchange);
  const s3 = s3Client(rgw);
  await s3.send(new CreateBucketCommand({ Bucket: opts.bucket }));
  const sns = new SNSClient({
    endpoint: rgw.endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: rgw.accessKeyId, secretAccessKey: rgw.secretAccessKey },
  });
  const topic = await sns.send(
    new CreateTopicCommand({
      Name: opts.topic,
      Attributes: {
        'push-endpoint': `amqp://127.0.0.1:${opts.amqpPort}`,
        'amqp-exchange': opts.exchange,
        'amqp-ack-level': 'broker',
      },
    }),
  );
  await s3.send(
    new PutBucketNotificationConfigurationCommand({
      Bucket: opts.bucket,
      NotificationConfiguration: {
        TopicConfigurations: [
          {
            Id: `${opts.topic}-notif`,
            TopicArn: topic.TopicArn,
            Events: ['s3:ObjectCreated:*', 's3:ObjectRemoved:*'],
            Filter: { Key: { FilterRules: [{ Name: 'prefix', Value: 'cvmfs/' }] } },
          },
        ],
      },
    }),
  );
}
