import fc from 'fast-check'
import { dedup } from '../src/Dedup.js'
import { deferred } from './helpers.js'

describe('dedup', () => {
  it('runs the work once for concurrent callers of one key and shares the value', async () => {
    const flight = dedup()
    const gate = deferred<number>()
    let runs = 0
    const joined: string[] = []
    const calls = Array.from({ length: 100 }, () =>
      flight.run(
        'k',
        () => {
          runs++
          return gate.promise
        },
        (key) => joined.push(key),
      ),
    )
    expect(flight.size()).toBe(1)
    gate.resolve(42)
    expect(await Promise.all(calls)).toEqual(Array(100).fill(42))
    expect(runs).toBe(1)
    expect(joined).toHaveLength(99)
    expect(flight.size()).toBe(0)
  })

  it('puts nothing in flight for work that answers at once', async () => {
    const flight = dedup()
    const answer = flight.run('k', () => 42)
    expect(flight.size()).toBe(0)
    expect(await answer).toBe(42)
  })

  it('hold puts a run that has begun in flight until it settles, for join to find', async () => {
    const flight = dedup()
    const gate = deferred<number>()
    expect(flight.join('k')).toBeUndefined()
    const held = flight.hold('k', gate.promise)
    const joined: string[] = []
    const joiner = flight.join<number>('k', (key) => joined.push(key))
    expect(joiner).toBe(held)
    expect(joined).toEqual(['k'])
    expect(flight.size()).toBe(1)
    gate.resolve(7)
    expect(await joiner).toBe(7)
    expect(flight.size()).toBe(0)
    expect(flight.join('k')).toBeUndefined()
  })

  it('hold with after keeps the key in flight, once the run has settled, until the rest of its work has too', async () => {
    const flight = dedup()
    const rest = deferred()
    let asked = 0
    const held = flight.hold('k', Promise.resolve(7), () => {
      asked++
      return rest.promise
    })
    expect(await held).toBe(7)
    expect(asked).toBe(1)
    // The run has its value; its rest (a write, say) is under way: later calls join the value.
    expect(flight.size()).toBe(1)
    expect(await flight.join<number>('k')).toBe(7)
    rest.resolve()
    await rest.promise
    await Promise.resolve()
    expect(flight.size()).toBe(0)
    // No rest to wait for: released as soon as the run settles.
    const bare = flight.hold('b', Promise.resolve(1), () => undefined)
    await bare
    await Promise.resolve()
    expect(flight.size()).toBe(0)
  })

  it('shares a failure with every caller, then forgets it', async () => {
    const flight = dedup()
    const gate = deferred<number>()
    const calls = Array.from({ length: 10 }, () => flight.run('k', () => gate.promise))
    const failure = new Error('boom')
    gate.reject(failure)
    const settled = await Promise.allSettled(calls)
    expect(settled.every((s) => s.status === 'rejected' && s.reason === failure)).toBe(true)
    expect(flight.size()).toBe(0)
    expect(await flight.run('k', () => Promise.resolve(1))).toBe(1)
  })

  it('keeps different keys apart', async () => {
    const flight = dedup()
    const results = await Promise.all(['a', 'b', 'a'].map((key) => flight.run(key, () => Promise.resolve(key))))
    expect(results).toEqual(['a', 'b', 'a'])
  })

  it('forget lets the next caller start afresh while earlier callers keep theirs', async () => {
    const flight = dedup()
    const first = deferred<string>()
    const early = flight.run('k', () => first.promise)
    flight.forget('k')
    const late = flight.run('k', () => Promise.resolve('fresh'))
    first.resolve('stale')
    expect(await early).toBe('stale')
    expect(await late).toBe('fresh')
    expect(flight.size()).toBe(0)
  })

  it('keeps several keys in flight at once, in any order of settling and forgetting, whichever key came first', async () => {
    const flight = dedup()
    const gates = { a: deferred<string>(), b: deferred<string>(), c: deferred<string>() }
    const a = flight.hold('a', gates.a.promise)
    const b = flight.hold('b', gates.b.promise)
    const c = flight.hold('c', gates.c.promise)
    expect(flight.size()).toBe(3)
    expect([flight.join('a'), flight.join('b'), flight.join('c'), flight.join('d')]).toEqual([a, b, c, undefined])
    gates.a.resolve('A')
    await a
    await Promise.resolve()
    expect(flight.join('a')).toBeUndefined()
    expect(flight.size()).toBe(2)
    const again = flight.hold('a', new Promise<string>(() => undefined)) // the first key's place is free again
    flight.forget('b')
    expect([flight.join('a'), flight.join('b'), flight.join('c')]).toEqual([again, undefined, c])
    gates.b.resolve('B') // a forgotten run settling later takes nothing out of the flight
    await b
    flight.forget('a')
    gates.c.resolve('C')
    await c
    await Promise.resolve()
    expect(flight.size()).toBe(0)
  })

  it('law: for any schedule of calls over a few keys, each key runs once per overlapping burst and nothing stays in flight', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.constantFrom('a', 'b', 'c', 'd'), { minLength: 1, maxLength: 60 }), async (keys) => {
        const flight = dedup()
        const runs = new Map<string, number>()
        const gate = deferred<void>()
        const calls = keys.map((key) =>
          flight.run(key, async () => {
            runs.set(key, (runs.get(key) ?? 0) + 1)
            await gate.promise
            return key
          }),
        )
        gate.resolve()
        expect(await Promise.all(calls)).toEqual(keys)
        for (const key of new Set(keys)) expect(runs.get(key)).toBe(1)
        expect(flight.size()).toBe(0)
      }),
    )
  })
})
