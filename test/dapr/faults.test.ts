/**
 * Real faults through the real runtime: real daprd on a real Redis, under a steady load of cached
 * calls, while Redis is stopped, paused, restarted, and while daprd itself is killed and restarted.
 * Every call must return the right value (uncached while the store is away), none may wait past
 * the deadline the store was given, errors are counted by code, and the cache must be used again
 * once the store is back: each test measures how soon, and the breaker's cool-down bounds it.
 */
import { cacheable } from '../../src/cacheable.js'
import { daprStore } from '../../src/stores/DaprStore.js'
import { InMemoryMetrics } from '../../src/Metrics.js'
import type { Daprd } from '../../src/testing/index.js'
import { startDaprd } from '../../src/testing/index.js'
import { redisCli, sleep } from './helpers.js'

const TIMEOUT_MS = 300
const COOLDOWN_MS = 1_000
/** A call does at most one read and one write, each bounded by TIMEOUT_MS; the rest is slack for a loaded machine. */
const CALL_BUDGET_MS = 2 * TIMEOUT_MS + 600
/**
 * The slowest call may also have met one stall of this process (a collection, daprd or Redis starting
 * on the same two cores): the budget holds for 99 calls in 100, and a stall of at most this is allowed
 * beyond it. A call that waited past its deadline (a hang) overshoots both.
 */
const STALL_MS = 1_500

interface Outcome {
  readonly startedAt: number
  readonly ms: number
  readonly right: boolean
}

/** Four callers calling in a loop over 20 keys until stopped, every result checked. */
const steadyLoad = (call: (id: number) => Promise<{ id: number; square: number }>) => {
  const outcomes: Array<Outcome> = []
  let running = true
  let next = 0
  const worker = async (): Promise<void> => {
    while (running) {
      const id = next++ % 20
      const startedAt = Date.now()
      const value = await call(id)
      outcomes.push({ startedAt, ms: Date.now() - startedAt, right: value.id === id && value.square === id * id })
      await sleep(2)
    }
  }
  const workers = Array.from({ length: 4 }, () => worker())
  return {
    outcomes,
    stop: async () => {
      running = false
      await Promise.all(workers)
    },
  }
}

describe('real faults on real daprd and Redis', () => {
  let daprd: Daprd
  beforeEach(async () => {
    daprd = await startDaprd({ flavour: 'redis' })
  })
  afterEach(async () => {
    await daprd.close()
  })

  const setup = () => {
    const store = daprStore({ daprUrl: daprd.url, env: {}, timeoutMs: TIMEOUT_MS, breaker: { failureThreshold: 5, cooldownMs: COOLDOWN_MS } })
    const metrics = new InMemoryMetrics()
    let computations = 0
    const square = cacheable({ store, metrics, ttlSeconds: 600, name: 'faults.square', logger: { warn: () => undefined } })(async (id: number) => {
      computations++
      return { id, square: id * id }
    })
    return { store, metrics, square, computations: () => computations }
  }

  /** Calls until one is a hit, and says how long after `since` that was. */
  const untilHit = async (metrics: InMemoryMetrics, call: () => Promise<unknown>, since: number, limitMs = 15_000): Promise<number> => {
    const hits = metrics.getStats().hits
    while (Date.now() - since < limitMs) {
      await call()
      if (metrics.getStats().hits > hits) return Date.now() - since
      await sleep(20)
    }
    throw new Error(`no cache hit within ${limitMs} ms after the store came back`)
  }

  const expectAllRightAndBounded = (outcomes: ReadonlyArray<Outcome>) => {
    expect(outcomes.length).toBeGreaterThan(50)
    expect(outcomes.filter((outcome) => !outcome.right)).toEqual([])
    const ms = outcomes.map((outcome) => outcome.ms).sort((x, y) => x - y)
    expect(ms[Math.floor(ms.length * 0.99)]).toBeLessThanOrEqual(CALL_BUDGET_MS)
    expect(ms[ms.length - 1]).toBeLessThanOrEqual(CALL_BUDGET_MS + STALL_MS)
  }

  it('Redis stopped: calls run uncached and fast, errors are counted, and the cache returns once Redis is back', async () => {
    const { store, metrics, square } = setup()
    try {
      for (let id = 0; id < 20; id++) await square(id)
      const load = steadyLoad(square)
      await sleep(300)
      await daprd.redis?.stop()
      await sleep(2_000)
      const backAt = Date.now()
      await daprd.redis?.start()
      await sleep(COOLDOWN_MS + 500)
      await load.stop()
      expectAllRightAndBounded(load.outcomes)
      const errors = metrics.getStats().errorsByCode
      // daprd answers 500 once its Redis client gives up, or not before our deadline; then the breaker spares it
      expect((errors['E_CACHE_STORE_REJECTED'] ?? 0) + (errors['E_CACHE_TIMEOUT'] ?? 0)).toBeGreaterThan(0)
      expect(errors['E_CACHE_CIRCUIT_OPEN'] ?? 0).toBeGreaterThan(0)
      const recovered = await untilHit(metrics, () => square(3), backAt)
      expect(recovered).toBeLessThan(COOLDOWN_MS + 5_000)
      process.stdout.write(`Redis stopped: cache used again ${recovered} ms after Redis was back; errors ${JSON.stringify(errors)}\n`)
    } finally {
      await store.close()
    }
  })

  it('Redis paused (CLIENT PAUSE): calls give up at the deadline, run uncached, and the cache returns after the pause', async () => {
    const { store, metrics, square } = setup()
    try {
      for (let id = 0; id < 20; id++) await square(id)
      const load = steadyLoad(square)
      await sleep(300)
      await redisCli(daprd.redis?.port ?? 0, 'CLIENT', 'PAUSE', '2500', 'ALL')
      const backAt = Date.now() + 2_500
      await sleep(2_500 + COOLDOWN_MS + 500)
      await load.stop()
      expectAllRightAndBounded(load.outcomes)
      const errors = metrics.getStats().errorsByCode
      expect((errors['E_CACHE_TIMEOUT'] ?? 0) + (errors['E_CACHE_STORE_REJECTED'] ?? 0)).toBeGreaterThan(0)
      const recovered = await untilHit(metrics, () => square(4), backAt)
      expect(recovered).toBeLessThan(COOLDOWN_MS + 5_000)
      process.stdout.write(`Redis paused: cache used again ${recovered} ms after the pause ended; errors ${JSON.stringify(errors)}\n`)
    } finally {
      await store.close()
    }
  })

  it('Redis restarted under load (empty afterwards): every call right, and entries are written again', async () => {
    const { store, metrics, square, computations } = setup()
    try {
      for (let id = 0; id < 20; id++) await square(id)
      const before = computations()
      const load = steadyLoad(square)
      await sleep(300)
      await daprd.redis?.stop()
      await daprd.redis?.start()
      const backAt = Date.now()
      await sleep(COOLDOWN_MS + 1_000)
      await load.stop()
      expectAllRightAndBounded(load.outcomes)
      expect(computations()).toBeGreaterThan(before) // the restarted Redis is empty: values are computed again
      const recovered = await untilHit(metrics, () => square(5), backAt)
      process.stdout.write(`Redis restarted: cache used again ${recovered} ms after Redis was back\n`)
    } finally {
      await store.close()
    }
  })

  it('daprd killed and restarted: connection errors while it is gone, then the cache again, with the data Redis kept', async () => {
    const { store, metrics, square, computations } = setup()
    try {
      for (let id = 0; id < 20; id++) await square(id)
      const load = steadyLoad(square)
      await sleep(300)
      await daprd.kill()
      await sleep(1_000)
      const restartAt = Date.now()
      await daprd.restart()
      const readyAt = Date.now()
      await sleep(COOLDOWN_MS + 500)
      await load.stop()
      expectAllRightAndBounded(load.outcomes)
      const errors = metrics.getStats().errorsByCode
      expect(errors['E_CACHE_CONNECTION'] ?? 0).toBeGreaterThan(0)
      const computed = computations()
      const recovered = await untilHit(metrics, () => square(6), readyAt)
      expect(computations()).toBe(computed) // Redis kept the entry: a hit, not a recomputation
      process.stdout.write(
        `daprd restarted in ${readyAt - restartAt} ms; cache used again ${recovered} ms after it was ready; errors ${JSON.stringify(errors)}\n`,
      )
    } finally {
      await store.close()
    }
  })
})
