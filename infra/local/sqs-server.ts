/**
 * The local SQS: fauxqs on 127.0.0.1 with the sync queue and its dead-letter queue, redriven after the same number
 * of receives as in AWS. fauxqs keeps messages in memory only; DESIGN.md ("Local stack") explains why losing them
 * on a restart loses nothing.
 *
 * fauxqs's own `startFauxqs` always listens on 0.0.0.0; its `buildApp` is started here on the loopback interface
 * instead, so a developer's queue is not reachable from the network.
 */
import { CreateQueueCommand, GetQueueAttributesCommand, QueueAttributeName, SQSClient } from "@aws-sdk/client-sqs";
import { buildApp } from "fauxqs";

/** As in AWS (infra/constructs/sync-pipeline.ts): a message goes to the DLQ on its sixth receive. */
export const MAX_RECEIVE_COUNT = 5;

export interface LocalSqsOptions {
  /** 0 = a free port. */
  port: number;
  queueName: string;
  /** How long a received message stays invisible; AWS guidance is 6 × the worker's timeout. */
  visibilityTimeoutSeconds: number;
  maxReceiveCount?: number;
}

export interface LocalSqs {
  endpoint: string;
  port: number;
  queueUrl: string;
  queueArn: string;
  dlqUrl: string;
  dlqArn: string;
  /** A client for the stack's own use (the poller); destroyed by stop(). */
  sqs: SQSClient;
  stop(): Promise<void>;
}

/** Starts fauxqs and creates the queue and its DLQ. */
export async function startLocalSqs(options: LocalSqsOptions): Promise<LocalSqs> {
  const app = buildApp({ logger: false });
  let address: string;
  try {
    address = await app.listen({ port: options.port, host: "127.0.0.1" });
  } catch (error) {
    await app.close().catch(() => undefined);
    if ((error as NodeJS.ErrnoException).code === "EADDRINUSE") {
      throw new Error(`Port ${options.port} is already in use; stop what uses it or set SQS_PORT to a free port`, {
        cause: error,
      });
    }
    throw error;
  }
  const endpoint = new URL(address).origin;
  const sqs = new SQSClient({
    endpoint,
    region: "us-east-1",
    credentials: { accessKeyId: "local", secretAccessKey: "local" },
  });
  const stop = async () => {
    sqs.destroy();
    await app.close();
  };
  try {
    const dlq = await createQueue(sqs, `${options.queueName}-dlq`, { MessageRetentionPeriod: String(14 * 86_400) });
    const queue = await createQueue(sqs, options.queueName, {
      VisibilityTimeout: String(options.visibilityTimeoutSeconds),
      RedrivePolicy: JSON.stringify({
        deadLetterTargetArn: dlq.arn,
        maxReceiveCount: options.maxReceiveCount ?? MAX_RECEIVE_COUNT,
      }),
    });
    return {
      endpoint,
      port: Number(new URL(address).port),
      queueUrl: queue.url,
      queueArn: queue.arn,
      dlqUrl: dlq.url,
      dlqArn: dlq.arn,
      sqs,
      stop,
    };
  } catch (error) {
    await stop().catch(() => undefined);
    throw error;
  }
}

/** Creates a queue and its DLQ on the running fauxqs (the local webhook queue, beside the sync queue). */
export async function createQueueWithDlq(
  sqs: SQSClient,
  name: string,
  options: { visibilityTimeoutSeconds: number; maxReceiveCount: number },
): Promise<{ url: string; arn: string; dlqUrl: string }> {
  const dlq = await createQueue(sqs, `${name}-dlq`, { MessageRetentionPeriod: String(14 * 86_400) });
  const queue = await createQueue(sqs, name, {
    VisibilityTimeout: String(options.visibilityTimeoutSeconds),
    RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlq.arn, maxReceiveCount: options.maxReceiveCount }),
  });
  return { url: queue.url, arn: queue.arn, dlqUrl: dlq.url };
}

async function createQueue(
  sqs: SQSClient,
  name: string,
  attributes: Record<string, string>,
): Promise<{ url: string; arn: string }> {
  const created = await sqs.send(new CreateQueueCommand({ QueueName: name, Attributes: attributes }));
  const url = created.QueueUrl;
  if (!url) throw new Error(`fauxqs returned no URL for queue '${name}'`);
  const described = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: [QueueAttributeName.QueueArn] }),
  );
  const arn = described.Attributes?.QueueArn;
  if (!arn) throw new Error(`fauxqs returned no ARN for queue '${name}'`);
  return { url, arn };
}
