/**
 * Typed message descriptors (the vscode-eslint pattern): one descriptor pairs a method name with
 * the zod schema of its parameters, and a request's descriptor also carries its result type, so
 * both ends of a channel are checked against the same declaration.
 */
import { z } from 'zod';
import type { Report } from '../report';

export interface RequestType<M extends string, P, R> {
  readonly method: M;
  readonly params: z.ZodType<P>;
  /** Checked where the result arrives, so a handler's result type is checked at both ends. */
  readonly result: z.ZodType<R>;
}

export interface NotificationType<M extends string, P> {
  readonly method: M;
  readonly params: z.ZodType<P>;
}

export type ParamsOf<D> = D extends { readonly params: z.ZodType<infer P> } ? P : never;
export type ResultOf<D> = D extends { readonly result: z.ZodType<infer R> } ? R : never;

export function request<M extends string, P, R>(
  method: M,
  params: z.ZodType<P>,
  result: z.ZodType<R>,
): RequestType<M, P, R> {
  return { method, params, result };
}

export function notification<M extends string, P>(method: M, params: z.ZodType<P>): NotificationType<M, P> {
  return { method, params };
}

/** A table of descriptors keyed by their own method names (checked: a key that differs does not compile). */
export function methodTable<T extends { [K in keyof T]: { readonly method: K } }>(table: T): T {
  return table;
}

/** Run ids name folders in the run store (RUN_STORE_DIR): letters, digits, '.', '_' and '-', never a path separator. */
export const runIdSchema = z.string().regex(/^[A-Za-z0-9._-]{1,80}$/);

/**
 * A report is our own engine's JSON (report-schema.json describes it): shape-checked where it
 * crosses a channel, typed by the engine that wrote it.
 */
export const reportShape = z.custom<Report>((value) => {
  const report = value as Partial<Record<keyof Report, unknown>> | null;
  return (
    typeof report === 'object' &&
    report !== null &&
    Array.isArray(report.attacks) &&
    Array.isArray(report.examples) &&
    Array.isArray(report.curves)
  );
}, 'a report with attacks, examples and curves');
