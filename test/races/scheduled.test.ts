/**
 * The race-finding suite of issue 21: fast-check's scheduler (`fc.scheduler()`) decides the order in
 * which every store operation takes effect and answers, every source load answers, and every read
 * and invalidation of two or three pipelines over one store begins. The property, for any such
 * order: a read issued after an `invalidate` resolved never returns a value loaded from the source
 * before that invalidation (the source's version is bumped before each `invalidate`, as a user who
 * writes the source and then invalidates does). With the in-process tier, the property is checked on
 * the invalidating replica; the others may serve their tier's entry for `l1.ttlSeconds`
 * (docs/replicas.md). With several replicas, a read may also get a value an overtaken computation
 * wrote and has not yet deleted (the one-round-trip window the docs state): allowed only while the
 * store holds it, and once everything is done the store holds nothing from before the last
 * invalidation. Without generations (or the lease) that last check fails: the suite finds race 3.
 * Seeded, so a failure names the run that reproduces it; the lease's polling
 * uses real timers (a few milliseconds), which the scheduler does not order.
 */
import fc from 'fast-check'
import * as E from 'fp-ts/lib/Either.js'
import { pipe } from 'fp-ts/lib/function.js'
import type * as TE from 'fp-ts/lib/TaskEither.js'
import { cache } from '../../src/Cached.js'
import type { Cached } from '../../src/Cached.js'
import { withGenerations } from '../../src/Generations.js'
import { withLease } from '../../src/Lease.js'
import { orElseUncached, withDedup, withKey } from '../../src/Pipeline.js'
import { withL1 } from '../../src/stores/L1.js'
import { memoryStore } from '../../src/stores/MemoryStore.js'
import type { Store } from '../../src/Store.js'
import { msgpackSerializer } from '../../src/Serializer.js'
import * as O from 'fp-ts/lib/Option.js'

/**
 * A memory store whose every operation takes effect, and answers, when the scheduler says; `held`
 * gives the version of the value the store holds now.
 */
const scheduledStore = (s: fc.Scheduler): { readonly store: Store; readonly held: () => number | undefined } => {
  const inner = memoryStore()
  const serializer = msgpackSerializer()
  let valueKey: string | undefined
  const held = (): number | undefined => {
    const found = valueKey === undefined ? undefined : inner.readNow(valueKey)
    if (found === undefined || E.isLeft(found) || O.isNone(found.right)) return undefined
    return (serializer.deserialize(found.right.value) as { readonly version: number }).version
  }
  const at =
    <A>(label: string, operation: () => Promise<A>) =>
    (): Promise<A> =>
      s.schedule(Promise.resolve(label), label).then(operation)
  const create = inner.create
  const store: Store = {
    name: 'scheduled',
    get: (key) => at(`get ${key}`, inner.get(key)),
    set: (key, value, ttl) => {
      if (!key.endsWith(':gen')) valueKey = key
      return at(`set ${key}`, inner.set(key, value, ttl))
    },
    delete: (key) => at(`delete ${key}`, inner.delete(key)),
    ...(create === undefined ? {} : { create: (key: string, value: Uint8Array, ttl: number) => at(`create ${key}`, create(key, value, ttl)) }),
  }
  return { store, held }
}

type Command = { readonly kind: 'read' | 'invalidate'; readonly replica: number }

interface Setup {
  readonly replicas: number
  readonly lease: boolean
  readonly generations?: boolean
  readonly l1: boolean
}

/** Runs `commands` concurrently, their starts ordered by the scheduler; gives the reads that broke the property. */
const run = async (s: fc.Scheduler, setup: Setup, commands: ReadonlyArray<Command>): Promise<ReadonlyArray<string>> => {
  const { store, held } = scheduledStore(s)
  let version = 1
  // The version bumped by the last invalidation that resolved, on each replica (the tier's rule) and on any.
  let floor = 0
  const floorOn = new Map<number, number>()
  const load = (id: number): TE.TaskEither<never, { readonly id: number; readonly version: number }> => {
    const seen = version
    return () => s.schedule(Promise.resolve(E.right({ id, version: seen })), `load v${seen}`)
  }
  const replicas: ReadonlyArray<Cached<[id: number], never, { readonly id: number; readonly version: number }>> = Array.from({ length: setup.replicas }, () => {
    const base = pipe(load, cache(store), withKey('race.scheduled'), withDedup())
    const coherent = setup.generations === true ? withGenerations()(base) : base
    const leased = setup.lease ? withLease({ pollMs: 1, maxPollMs: 2, maxWaitMs: 200, leaseSeconds: 5 })(coherent) : coherent
    const tiered = setup.l1 ? withL1({ ttlSeconds: 60 })(leased) : leased
    return orElseUncached({ onError: () => undefined })(tiered)
  })
  const broken: Array<string> = []
  const tasks = commands.map(async (command, index) => {
    await s.schedule(Promise.resolve(index), `start ${index}: ${command.kind} on ${command.replica}`)
    const replica = replicas[command.replica] as (typeof replicas)[number]
    if (command.kind === 'invalidate') {
      version++
      const bumped = version
      const dropped = await replica.invalidate(1)()
      if (E.isRight(dropped)) {
        floor = Math.max(floor, bumped)
        floorOn.set(command.replica, Math.max(floorOn.get(command.replica) ?? 0, bumped))
      }
      return
    }
    // The tier may serve another replica's invalidated value for its TTL: the floor is this replica's own then.
    const atLeast = setup.l1 ? (floorOn.get(command.replica) ?? 0) : floor
    const read = await replica(1)()
    // The window of several replicas: a computation overtaken by an invalidation wrote its value and
    // has not yet deleted it (the store holds it as the read is answered); it is gone once all is done.
    const inWindow = setup.replicas > 1 && E.isRight(read) && held() === read.right.version
    if (E.isRight(read) && read.right.version < atLeast && !inWindow) {
      broken.push(`read ${index} on replica ${command.replica} got v${read.right.version}, issued after the invalidation of v${atLeast} resolved`)
    }
  })
  await s.waitFor(Promise.all(tasks))
  // Once every load and invalidation is done, the store holds nothing from before the last one.
  const left = held()
  if (left !== undefined && left < floor) broken.push(`the store holds v${left} after the invalidation of v${floor} resolved`)
  return broken
}

const commandsFor = (replicas: number) =>
  fc.array(
    fc.record({ kind: fc.constantFrom<Command['kind']>('read', 'read', 'invalidate'), replica: fc.integer({ min: 0, max: replicas - 1 }) }),
    { minLength: 2, maxLength: 10 },
  )

const check = (setup: Setup, seed: number) =>
  fc.assert(
    fc.asyncProperty(fc.scheduler(), commandsFor(setup.replicas), async (s, commands) => {
      expect(await run(s, setup, commands)).toEqual([])
    }),
    { seed, numRuns: 150, interruptAfterTimeLimit: 20_000 },
  )

describe('a read issued after an invalidation resolved never gets a value from before it (any order of events)', () => {
  it('one pipeline, with its single flight', async () => {
    await check({ replicas: 1, lease: false, l1: false }, 21)
  }, 60_000)

  it('one pipeline, with its in-process tier', async () => {
    await check({ replicas: 1, lease: false, l1: true }, 22)
  }, 60_000)

  it('three replicas with the lease', async () => {
    await check({ replicas: 3, lease: true, l1: false }, 23)
  }, 60_000)

  it('three replicas with generations and no lease', async () => {
    await check({ replicas: 3, lease: false, generations: true, l1: false }, 25)
  }, 60_000)

  it('finds race 3 where it is not closed: three replicas with neither generations nor the lease', async () => {
    // Its shrunk counterexample is race 3 of test/raceScenarios.ts: a load's write lands after the delete.
    const failure: unknown = await check({ replicas: 3, lease: false, l1: false }, 26).then(
      () => undefined,
      (error: unknown) => error,
    )
    expect(String((failure as Error | undefined)?.cause)).toMatch(/the store holds v\d+ after the invalidation of v\d+ resolved/)
  }, 60_000)

  it('two replicas with the lease and the in-process tier, on the invalidating replica', async () => {
    await check({ replicas: 2, lease: true, l1: true }, 24)
  }, 60_000)
})
