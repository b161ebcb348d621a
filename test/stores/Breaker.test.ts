import * as E from 'fp-ts/lib/Either.js'
import * as CE from '../../src/CacheError.js'
import { isStoreTrouble, withBreaker } from '../../src/stores/Breaker.js'
import { manualClock } from '../../src/Clock.js'
import { CacheOptionsError } from '../../src/errors.js'
import { memoryStore } from '../../src/stores/MemoryStore.js'
import { probeStore } from '../helpers.js'

const setup = () => {
  const clock = manualClock(0)
  const inner = probeStore(memoryStore({ clock }))
  const store = withBreaker(inner, { failureThreshold: 3, cooldownMs: 1_000, clock })
  return { clock, inner, store }
}

describe('withBreaker', () => {
  it('opens after the threshold of consecutive store failures, then fails fast without a request', async () => {
    const { inner, store } = setup()
    inner.failWith.get = CE.timeoutError(50, 'slow')
    for (let i = 0; i < 3; i++) expect((await store.get('k')())).toMatchObject({ left: { _tag: 'TimeoutError' } })
    expect(store.breaker.state()).toBe('open')
    const fast = await store.get('k')()
    expect(E.isLeft(fast) && fast.left).toMatchObject({ _tag: 'CircuitOpen', code: 'E_CACHE_CIRCUIT_OPEN', retryAt: 1_000, key: 'k' })
    await store.set('k', Uint8Array.of(1), 60)()
    expect(inner.counts).toEqual({ get: 3, set: 0, delete: 0 })
  })

  it('after the cool-down, lets exactly one probe through; its success closes the breaker', async () => {
    const { clock, inner, store } = setup()
    inner.failWith.get = CE.connectionError('refused')
    for (let i = 0; i < 3; i++) await store.get('k')()
    clock.advance(1_000)
    expect(store.breaker.state()).toBe('half-open')
    delete inner.failWith.get
    const [probe, other] = await Promise.all([store.get('k')(), store.get('k')()])
    expect(E.isRight(probe)).toBe(true)
    expect(E.isLeft(other) && other.left._tag).toBe('CircuitOpen')
    expect(store.breaker.state()).toBe('closed')
    expect(inner.counts.get).toBe(4)
  })

  it('a failed probe opens it for another cool-down', async () => {
    const { clock, inner, store } = setup()
    inner.failWith.get = CE.storeRejected(500, 'boom', { errorCode: 'ERR_STATE_GET' })
    for (let i = 0; i < 3; i++) await store.get('k')()
    clock.advance(1_000)
    await store.get('k')()
    expect(store.breaker.state()).toBe('open')
    clock.advance(999)
    expect(store.breaker.state()).toBe('open')
    clock.advance(1)
    expect(store.breaker.state()).toBe('half-open')
  })

  it('a success resets the count; failures that are the caller’s problem do not count', async () => {
    const { inner, store } = setup()
    inner.failWith.get = CE.connectionError('refused')
    await store.get('k')()
    await store.get('k')()
    delete inner.failWith.get
    await store.get('k')()
    expect(store.breaker.failures()).toBe(0)
    inner.failWith.get = CE.storeRejected(400, 'not found', { errorCode: 'ERR_STATE_STORE_NOT_FOUND' })
    for (let i = 0; i < 10; i++) await store.get('k')()
    inner.failWith.get = CE.serializationError('deserialize', 'garbage')
    for (let i = 0; i < 10; i++) await store.get('k')()
    expect(store.breaker.state()).toBe('closed')
  })

  it.each([
    ['throws', (thrown: Error) => () => { throw thrown }],
    ['rejects', (thrown: Error) => () => Promise.reject(thrown)],
  ])('passes on a store that %s instead of answering, and such a probe lets the next call probe', async (_how, breaking) => {
    const clock = manualClock(0)
    const inner = probeStore(memoryStore({ clock }))
    const thrown = new Error('a store that breaks its contract')
    let broken = false
    const get = inner.get
    const store = withBreaker({ ...inner, get: (key) => (broken ? breaking(thrown) : get(key)) }, { failureThreshold: 1, cooldownMs: 1_000, clock })
    broken = true
    await expect(store.get('k')()).rejects.toBe(thrown)
    expect(store.breaker.state()).toBe('closed')
    inner.failWith.get = CE.connectionError('refused')
    broken = false
    await store.get('k')()
    expect(store.breaker.state()).toBe('open')
    clock.advance(1_000)
    broken = true
    await expect(store.get('k')()).rejects.toBe(thrown) // the probe
    broken = false
    delete inner.failWith.get
    expect(E.isRight(await store.get('k')())).toBe(true) // so this call may probe, and closes it
    expect(store.breaker.state()).toBe('closed')
  })

  it('reset() closes it by hand', async () => {
    const { inner, store } = setup()
    inner.failWith.delete = CE.connectionError('refused')
    for (let i = 0; i < 3; i++) await store.delete('k')()
    expect(store.breaker.state()).toBe('open')
    store.breaker.reset()
    expect(store.breaker.state()).toBe('closed')
  })

  it('classifies store trouble', () => {
    expect(isStoreTrouble(CE.connectionError('x'))).toBe(true)
    expect(isStoreTrouble(CE.timeoutError(1, 'x'))).toBe(true)
    expect(isStoreTrouble(CE.storeRejected(503, 'x'))).toBe(true)
    expect(isStoreTrouble(CE.storeRejected(401, 'x'))).toBe(false)
    expect(isStoreTrouble(CE.keyError('x'))).toBe(false)
  })

  it('refuses bad options', () => {
    expect(() => withBreaker(memoryStore(), { failureThreshold: 0 })).toThrow(CacheOptionsError)
    expect(() => withBreaker(memoryStore(), { cooldownMs: -1 })).toThrow(/breaker\.cooldownMs/)
    expect(() => withBreaker(memoryStore(), { cooldownMs: 3e9 })).toThrow(/breaker\.cooldownMs.*2147483647/)
    expect(() => withBreaker(memoryStore(), { cooldown: 5 } as never)).toThrow(/breaker\.cooldown.*did you mean `cooldownMs`/)
  })
})
