/** Integration-test SQS: fauxqs in-process on a free loopback port, with queues created per test. */
import { SQSClient } from "@aws-sdk/client-sqs";
import { startFauxqs } from "fauxqs";

export interface TestSqs {
  endpoint: string;
  sqs: SQSClient;
  /** Creates a queue and a DLQ with a redrive policy after `maxReceiveCount` receives. */
  createQueues(
    prefix?: string,
    options?: { visibilityTimeoutSeconds?: number; maxReceiveCount?: number },
  ): Promise<{ queueUrl: string; dlqUrl: string }>;
  stop(): Promise<void>;
}

let counter = 0;

export async function startSqs(): Promise<TestSqs> {
  const server = await startFauxqs({ port: 0, logger: false });
  const endpoint = server.address;
  const sqs = new SQSClient({ endpoint, region: "us-east-1", credentials: { accessKeyId: "x", secretAccessKey: "x" } });
  return {
    endpoint,
    sqs,
    async createQueues(prefix = "q", options = {}) {
      const name = `${prefix}-${process.pid}-${++counter}`;
      const dlq = server.createQueue(`${name}-dlq`);
      const queue = server.createQueue(name, {
        attributes: {
          VisibilityTimeout: String(options.visibilityTimeoutSeconds ?? 30),
          RedrivePolicy: JSON.stringify({
            deadLetterTargetArn: dlq.queueArn,
            maxReceiveCount: options.maxReceiveCount ?? 5,
          }),
        },
      });
      return { queueUrl: queue.queueUrl, dlqUrl: dlq.queueUrl };
    },
    async stop() {
      sqs.destroy();
      await server.stop();
    },
  };
}
