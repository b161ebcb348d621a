/**
 * Fault injection for the test sidecar: which requests misbehave, how, and how many times.
 *
 * A fault matches a request by route and, optionally, by key; it applies to every matching request
 * until removed, or to the next `times` of them. The newest matching fault wins. Refusing new
 * connections is not a per-request fault (an accepted connection cannot be refused); the sidecar
 * does that with `refuseConnections()`.
 */

/**
 * The routes the sidecar knows.
 *
 * @category model
 * @since 0.1.0
 */
export type Route = 'get' | 'save' | 'delete' | 'bulk' | 'transaction' | 'publish' | 'healthz' | 'outbound' | 'metadata' | 'fallback'

/**
 * - `reset`: the connection is destroyed without an answer (the client sees ECONNRESET or "socket closed").
 * - `hang`: no answer, ever (until the client gives up or the sidecar closes).
 * - `delay`: the normal answer, `delayMs` later.
 * - `status`: a Dapr-shaped JSON error (`status`, `errorCode`, `message`; defaults per route, e.g. 500 ERR_STATE_GET).
 * - `garbage`: 200 with a body that is not what the route returns (`body`, default truncated JSON).
 *
 * @category model
 * @since 0.1.0
 */
export type FaultKind = 'reset' | 'hang' | 'delay' | 'status' | 'garbage'

/**
 * @category model
 * @since 0.1.0
 */
export interface FaultOptions {
  readonly kind: FaultKind
  /** Only requests on this route (default: every route). */
  readonly route?: Route | undefined
  /** Only requests for this key (default: any). */
  readonly key?: string | undefined
  /** Only the next N matching requests (default: until removed). */
  readonly times?: number | undefined
  /** Each matching request is hit with this probability, from 0 to 1 (default 1). */
  readonly probability?: number | undefined
  readonly delayMs?: number | undefined
  readonly status?: number | undefined
  readonly errorCode?: string | undefined
  readonly message?: string | undefined
  readonly body?: string | undefined
}

/**
 * @category model
 * @since 0.1.0
 */
export interface FaultHandle {
  /** How many requests this fault has hit so far. */
  readonly hits: () => number
  /** Stops this fault now. */
  readonly remove: () => void
}

export interface Fault extends FaultOptions {
  remaining: number
  hits: number
}

export interface FaultTable {
  readonly add: (options: FaultOptions) => FaultHandle
  /** The fault for this request, if any, counting it as used. */
  readonly take: (request: { readonly route: Route; readonly key?: string | undefined }) => Fault | undefined
  readonly clear: () => void
}

const KINDS: ReadonlySet<string> = new Set(['reset', 'hang', 'delay', 'status', 'garbage'])

export const faultTable = (): FaultTable => {
  let faults: Array<Fault> = []
  return {
    add: (options) => {
      if (!KINDS.has(options.kind)) throw new RangeError(`unknown fault kind ${JSON.stringify(options.kind)}`)
      if (options.times !== undefined && !(Number.isSafeInteger(options.times) && options.times > 0)) {
        throw new RangeError(`fault option \`times\` must be a positive integer, got ${String(options.times)}`)
      }
      if (options.probability !== undefined && !(options.probability >= 0 && options.probability <= 1)) {
        throw new RangeError(`fault option \`probability\` must be between 0 and 1, got ${String(options.probability)}`)
      }
      const fault: Fault = { ...options, remaining: options.times ?? Number.POSITIVE_INFINITY, hits: 0 }
      faults.push(fault)
      return {
        hits: () => fault.hits,
        remove: () => {
          faults = faults.filter((other) => other !== fault)
        },
      }
    },
    take: (request) => {
      for (let i = faults.length - 1; i >= 0; i--) {
        const fault = faults[i] as Fault
        if (fault.route !== undefined && fault.route !== request.route) continue
        if (fault.key !== undefined && fault.key !== request.key) continue
        if (fault.probability !== undefined && Math.random() >= fault.probability) continue
        fault.hits++
        fault.remaining--
        if (fault.remaining <= 0) faults.splice(i, 1)
        return fault
      }
      return undefined
    },
    clear: () => {
      faults = []
    },
  }
}
