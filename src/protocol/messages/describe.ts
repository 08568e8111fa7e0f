/**
 * Language server ⇄ its describe worker: the server never reads a model or data file on its own
 * thread; it asks the worker (src/server/describe-worker.ts) for a model's summary or a data
 * folder's shape, and waits at most a time budget (src/server/describer.ts).
 */
import { z } from 'zod';
import { DATA_SOURCE_IDS, DATA_SPLITS, MODEL_FORMAT_IDS } from '../vocabulary';

/** What to describe: a model file (shown as the spec writes it), or a data id resolved against a folder. */
export const describeJobSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('model'), file: z.string().min(1), shown: z.string() }),
  z.strictObject({ kind: z.literal('data'), id: z.string(), dir: z.string().min(1) }),
]);
export type DescribeJob = z.infer<typeof describeJobSchema>;

/** server → worker: one job, numbered. */
export const describeRequestSchema = z.strictObject({ seq: z.number().int(), job: describeJobSchema });
export type DescribeRequest = z.infer<typeof describeRequestSchema>;

const modelInfoSchema = z.strictObject({
  format: z.enum(MODEL_FORMAT_IDS),
  inputShape: z.array(z.number()).optional(),
  classes: z.number().optional(),
  outputActivation: z.string().optional(),
  producer: z.string().optional(),
  opset: z.number().optional(),
  inputNormalization: z.string().optional(),
});

const dataInfoSchema = z.strictObject({
  shape: z.array(z.number()),
  count: z.number(),
  counts: z.partialRecord(z.enum(DATA_SPLITS), z.number()),
  classes: z.array(z.string()).optional(),
  source: z.enum(DATA_SOURCE_IDS).optional(),
  kind: z.string().optional(),
});

/** worker → server: the answer to job `seq`: a summary, or why there is none. */
export const describeResponseSchema = z.strictObject({
  seq: z.number().int(),
  result: z.union([
    z.strictObject({ info: modelInfoSchema }),
    z.strictObject({ problem: z.string(), missing: z.boolean().optional() }),
    dataInfoSchema,
  ]),
});
export type DescribeResponse = z.infer<typeof describeResponseSchema>;
