/**
 * Spans for one cached call, when the pipeline has a tracer: a span per call (`cache <name>`) that
 * says how it went (`cache.result` = hit, miss, fallback, error, coalesced or stale), with child spans for
 * the store round trips and for the computation on a miss. A cache failure that was recovered from is
 * recorded on the call's span as an exception event, without failing the span: the call succeeded.
 * The function's own failure fails the span.
 *
 * The engine creates none of this when the pipeline has no tracer: not a span, not an attribute.
 */
import type { Context, Span, SpanContext, Tracer } from '@opentelemetry/api'
import { SpanKind, SpanStatusCode, context, trace } from '@opentelemetry/api'
import type { CacheError } from '../CacheError.js'
import * as CE from '../CacheError.js'
import { toError } from '../errors.js'
import type { MetricsContext } from '../Metrics.js'

export type CallResult = 'hit' | 'miss' | 'fallback' | 'error' | 'coalesced' | 'stale'

export interface CallSpan {
  /** A span for one store round trip, a child of the call's. */
  readonly store: (operation: 'get' | 'set' | 'delete') => Span
  /** Runs the computation inside its own child span (active, so the function's spans nest under it). */
  readonly compute: <A>(run: () => Promise<A>) => Promise<A>
  readonly key: (key: string) => void
  /** Which tier served the call, when it was not the store. */
  readonly tier: (tier: 'l1') => void
  /** A cache failure the call recovered from (or, strict, returned). */
  readonly cacheFailure: (error: CacheError) => void
  readonly result: (result: CallResult, failure?: unknown) => void
  readonly end: () => void
  /** The call span's own context, for a span that links to it. */
  readonly spanContext: () => SpanContext
}

/**
 * The spans of one call; or, with `origin`, of a refresh ahead that call started: a span of its own
 * (`cache.refresh` = true), in its own trace, linked to the call's.
 */
export const startCall = (tracer: Tracer, about: MetricsContext, origin?: CallSpan): CallSpan => {
  const call = tracer.startSpan(
    `cache ${about.name ?? 'call'}`,
    {
      kind: SpanKind.INTERNAL,
      attributes: {
        'cache.store': about.store,
        ...(about.name === undefined ? {} : { 'cache.function': about.name }),
        ...(origin === undefined ? {} : { 'cache.refresh': true }),
      },
      ...(origin === undefined ? {} : { links: [{ context: origin.spanContext() }], root: true }),
    },
  )
  const parent: Context = trace.setSpan(context.active(), call)
  // A call can pass through several results (a miss whose write then fails is a fallback): the
  // gravest one stands; but a failure that a stale value stood in for ends as `stale`.
  const rank: Readonly<Record<CallResult, number>> = { coalesced: 0, hit: 1, miss: 2, fallback: 3, error: 4, stale: 5 }
  let settled: CallResult | undefined
  return {
    store: (operation) =>
      tracer.startSpan(`cache.${operation}`, { kind: SpanKind.CLIENT, attributes: { 'cache.store': about.store, 'cache.operation': operation } }, parent),
    compute: async (run) => {
      const span = tracer.startSpan('cache.compute', { kind: SpanKind.INTERNAL }, parent)
      try {
        return await context.with(trace.setSpan(parent, span), run)
      } finally {
        span.end()
      }
    },
    key: (key) => {
      call.setAttribute('cache.key', key)
    },
    tier: (tier) => {
      call.setAttribute('cache.tier', tier)
    },
    cacheFailure: (error) => {
      call.recordException(toError(error))
      call.setAttribute('error.type', error.code)
    },
    result: (result, failure) => {
      if (settled !== undefined && rank[settled] >= rank[result]) return
      settled = result
      call.setAttribute('cache.result', result)
      if (result === 'error') {
        const error: Error | undefined = CE.isInstance(failure, Error) ? failure : undefined
        call.setStatus({ code: SpanStatusCode.ERROR, message: error === undefined ? 'the cached function failed' : CE.messageOf(error) })
        if (error !== undefined) call.recordException(error)
      }
      // The caller got a value: the call did not fail (the failure stays recorded as an event).
      if (result === 'stale') call.setStatus({ code: SpanStatusCode.OK })
    },
    end: () => {
      call.end()
    },
    spanContext: () => call.spanContext(),
  }
}

/** Ends a store span with the outcome of its operation. */
export const endStoreSpan = (span: Span, failure: CacheError | undefined): void => {
  if (failure !== undefined) {
    span.recordException(toError(failure))
    span.setAttribute('error.type', failure.code)
    span.setStatus({ code: SpanStatusCode.ERROR, message: failure.message })
  }
  span.end()
}
