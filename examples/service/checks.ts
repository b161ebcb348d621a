/**
 * The rules every answer of the service is held to, from what the docs promise:
 *
 * - **Nothing from the future**: an item's version is never one the source had not reached when
 *   the answer was sent.
 * - **An invalidation wins**: a read that begins after an update's invalidation completed (on any
 *   replica) gets that version or a later one; the other replicas hear of it over the backplane, so
 *   `graceMs` is allowed for that message (more while a fault keeps a replica from hearing: until it
 *   stops trusting its tier, `faultGraceMs`).
 * - **The TTL bounds the rest**: an update whose invalidation failed (the store was down) may be
 *   hidden by the old value until its TTL ends, and the in-process tier's after it (a tier filled
 *   from the store just before the value expired keeps it `tierSeconds` more), never longer: every
 *   read gets at least the version the source had `ttlSeconds + tierSeconds` before it began.
 *
 * And two counts: requests that failed, and the source's reads of one version of one item more than
 * once within its TTL outside the fault windows (a stampede the lease should have held).
 */
import type { SourceLog } from './source.js'

export interface Answer {
  readonly method: 'GET' | 'PUT'
  readonly id: number
  readonly started: number
  readonly ended: number
  readonly status: number
  readonly version?: number | undefined
  /** For an update: whether its invalidation completed. */
  readonly invalidated?: boolean | undefined
  /** The replica that answered. */
  readonly replica?: string | undefined
  readonly error?: string | undefined
}

export interface FaultWindow {
  readonly kind: string
  readonly from: number
  readonly to: number
  /** The replicas that could not hear the bus during it; absent: all of them. */
  readonly replicas?: ReadonlyArray<string> | undefined
}

export interface CheckOptions {
  readonly ttlSeconds: number
  /** The in-process tier's TTL: a value it was filled with may be served that long after. */
  readonly tierSeconds: number
  readonly graceMs: number
  readonly faultGraceMs: number
}

export interface Violation {
  readonly rule: 'future' | 'invalidation' | 'ttl'
  readonly id: number
  readonly started: number
  readonly version: number
  readonly expectedAtLeast?: number | undefined
  readonly latest?: number | undefined
}

export interface CheckResult {
  readonly reads: number
  readonly updates: number
  readonly failedReads: number
  readonly failedUpdates: number
  /** The first failed answers (not 200), with what the balancer or the replica said. */
  readonly firstFailures: ReadonlyArray<Pick<Answer, 'method' | 'id' | 'started' | 'ended' | 'status' | 'error' | 'replica'>>
  readonly updatesNotInvalidated: number
  readonly violations: number
  readonly firstViolations: ReadonlyArray<Violation>
  readonly sourceReads: number
  readonly repeatedSourceReads: number
  /**
   * After each fault: the source's reads from `REFILL_AFTER_MS` after it ended (the store's breaker
   * tries the store again after a second; until then calls run uncached, by design) to 5 s after
   * it (or the next fault), and how many of them read a version of an item read already in that
   * time: the lease holds a refill to one read per key, across the replicas.
   */
  readonly refills: ReadonlyArray<{ readonly kind: string; readonly reads: number; readonly repeated: number }>
}

/** The breaker's cooldown in app.ts, and a little more. */
const REFILL_AFTER_MS = 1_500

/** The version of `id` at `at`, from the source's log. */
const versionAt = (log: SourceLog, id: number, at: number): number => {
  let version = 1
  for (const [next, since] of log.versions[String(id)] ?? []) if (since <= at) version = next
  return version
}

/** Whether `at` falls in a fault (or `afterMs` after it) that concerns `replica` (any replica when not given). */
const inFault = (faults: ReadonlyArray<FaultWindow>, at: number, afterMs: number, replica?: string): boolean =>
  faults.some((fault) => at >= fault.from && at <= fault.to + afterMs && (replica === undefined || fault.replicas === undefined || fault.replicas.includes(replica)))

export const check = (answers: ReadonlyArray<Answer>, log: SourceLog, faults: ReadonlyArray<FaultWindow>, options: CheckOptions): CheckResult => {
  const reads = answers.filter((answer) => answer.method === 'GET')
  const updates = answers.filter((answer) => answer.method === 'PUT')
  const invalidations = new Map<number, Array<{ readonly ended: number; readonly version: number }>>()
  for (const update of updates) {
    if (update.status !== 200 || update.invalidated !== true || update.version === undefined) continue
    invalidations.set(update.id, [...(invalidations.get(update.id) ?? []), { ended: update.ended, version: update.version }])
  }
  const violations: Array<Violation> = []
  for (const read of reads) {
    if (read.status !== 200 || read.version === undefined) continue
    const latest = versionAt(log, read.id, read.ended + 5)
    if (read.version > latest) {
      violations.push({ rule: 'future', id: read.id, started: read.started, version: read.version, latest })
      continue
    }
    // The long grace only for a replica that could not hear the bus (all of them while Redis is down).
    const grace = inFault(faults, read.started, options.faultGraceMs, read.replica ?? '') ? options.faultGraceMs : options.graceMs
    const won = (invalidations.get(read.id) ?? []).filter((update) => update.ended + grace < read.started).reduce((most, update) => Math.max(most, update.version), 0)
    if (read.version < won) {
      violations.push({ rule: 'invalidation', id: read.id, started: read.started, version: read.version, expectedAtLeast: won })
      continue
    }
    const floor = versionAt(log, read.id, read.started - (options.ttlSeconds + options.tierSeconds) * 1000 - grace)
    if (read.version < floor) violations.push({ rule: 'ttl', id: read.id, started: read.started, version: read.version, expectedAtLeast: floor })
  }
  // The source's reads of one version of one item, more than once within the TTL, outside faults.
  const lastRead = new Map<string, number>()
  let repeated = 0
  for (const read of [...log.reads].sort((a, b) => a.at - b.at)) {
    const key = `${read.id}@${read.version}`
    const before = lastRead.get(key)
    lastRead.set(key, read.at)
    if (before !== undefined && read.at - before < options.ttlSeconds * 1000 && !inFault(faults, read.at, options.faultGraceMs)) repeated++
  }
  const refills = faults.map((fault, index) => {
    const until = Math.min(fault.to + 5_000, faults[index + 1]?.from ?? Number.POSITIVE_INFINITY)
    const after = log.reads.filter((read) => read.at >= fault.to + REFILL_AFTER_MS && read.at < until)
    return { kind: fault.kind, reads: after.length, repeated: after.length - new Set(after.map((read) => `${read.id}@${read.version}`)).size }
  })
  return {
    reads: reads.length,
    updates: updates.length,
    failedReads: reads.filter((read) => read.status !== 200).length,
    failedUpdates: updates.filter((update) => update.status !== 200).length,
    firstFailures: [...reads, ...updates]
      .filter((answer) => answer.status !== 200)
      .slice(0, 10)
      .map(({ method, id, started, ended, status, error, replica }) => ({ method, id, started, ended, status, error, replica })),
    updatesNotInvalidated: updates.filter((update) => update.status === 200 && update.invalidated === false).length,
    violations: violations.length,
    firstViolations: violations.slice(0, 20),
    sourceReads: log.reads.length,
    repeatedSourceReads: repeated,
    refills,
  }
}
