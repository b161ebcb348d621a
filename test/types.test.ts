/**
 * Inferred types of every public function and combinator. These assertions are checked by `tsc`
 * (`npm run typecheck`); the Jest run only makes sure the file loads.
 */
import { expectTypeOf } from 'expect-type'
import * as E from 'fp-ts/lib/Either.js'
import { pipe } from 'fp-ts/lib/function.js'
import * as TE from 'fp-ts/lib/TaskEither.js'
import * as t from 'io-ts'
import type { CacheError } from '../src/CacheError.js'
import * as CE from '../src/CacheError.js'
import type { CacheableFunction, CacheableOptions } from '../src/cacheable.js'
import { cacheable, invalidate } from '../src/cacheable.js'
import { memoryStore } from '../src/stores/MemoryStore.js'
import { InMemoryMetrics } from '../src/Metrics.js'
import type { Cached, Invocation, Plan, Step } from '../src/Cached.js'
import { around, cache, step } from '../src/Cached.js'
import { orElse, orElseUncached, uncached, withBackgroundWrites, withDecoder, withDedup, withKey, withMetrics, withClock, withSerializer, withTtl } from '../src/Pipeline.js'
import type { FunctionTimeout } from '../src/CacheError.js'
import { manualClock } from '../src/Clock.js'
import { withFailSafe } from '../src/FailSafe.js'
import { withJitter } from '../src/Jitter.js'
import { withNegativeCache } from '../src/NegativeCache.js'
import { withRefreshAhead } from '../src/RefreshAhead.js'
import { withTimeouts } from '../src/Timeouts.js'
import { msgpackSerializer } from '../src/Serializer.js'

interface User {
  readonly id: number
  readonly name: string
}
interface LoadError {
  readonly _tag: 'LoadError'
}
const loadUser = (id: number, includeRoles: boolean): TE.TaskEither<LoadError, User> => () =>
  Promise.resolve(includeRoles ? E.right({ id, name: 'x' }) : E.left({ _tag: 'LoadError' }))
const store = memoryStore()

describe('types', () => {
  it('cache(store) keeps parameters and value, adding CacheError to the error channel', () => {
    const cached = cache(store)(loadUser)
    expectTypeOf(cached).toEqualTypeOf<Cached<[id: number, includeRoles: boolean], LoadError | CacheError, User>>()
    expectTypeOf(cached).parameters.toEqualTypeOf<[id: number, includeRoles: boolean]>()
    expectTypeOf(cached(1, true)).toEqualTypeOf<TE.TaskEither<LoadError | CacheError, User>>()
    expectTypeOf(cached.invalidate).toEqualTypeOf<(id: number, includeRoles: boolean) => TE.TaskEither<CacheError, void>>()
  })

  it('lifts Promise-returning and plain functions with an unknown error', () => {
    const fromPromise = cache(store)(async (id: number) => ({ id }))
    expectTypeOf(fromPromise).toEqualTypeOf<Cached<[id: number], unknown, { id: number }>>()
    const fromValue = cache(store)((a: string, b: number) => a.repeat(b))
    expectTypeOf(fromValue).toEqualTypeOf<Cached<[a: string, b: number], unknown, string>>()
  })

  it('every combinator keeps the types through pipe, and orElseUncached removes CacheError', () => {
    const getUser = pipe(
      loadUser,
      cache(store),
      withKey('users.get', { prefix: 'v2' }),
      withTtl(300),
      withDedup(),
      withMetrics(new InMemoryMetrics()),
      withSerializer(msgpackSerializer()),
      orElseUncached(),
    )
    expectTypeOf(getUser).toEqualTypeOf<Cached<[id: number, includeRoles: boolean], LoadError, User>>()
  })

  it('fail-safe, refresh ahead, jitter and the clock keep the types; the timeouts add FunctionTimeout, in any order', () => {
    const resilient = pipe(
      loadUser,
      cache(store),
      withFailSafe({ maxStaleSeconds: 600 }),
      withRefreshAhead(true),
      withJitter(0.1),
      withClock(manualClock()),
      withDedup(),
      withBackgroundWrites(),
      orElseUncached(),
    )
    expectTypeOf(resilient).toEqualTypeOf<Cached<[id: number, includeRoles: boolean], LoadError, User>>()
    const timedBefore = pipe(loadUser, cache(store), withTimeouts({ hardMs: 100 }), orElseUncached())
    const timedAfter = pipe(loadUser, cache(store), orElseUncached(), withTimeouts({ hardMs: 100 }))
    expectTypeOf(timedBefore).toEqualTypeOf<Cached<[id: number, includeRoles: boolean], LoadError | FunctionTimeout, User>>()
    expectTypeOf(timedAfter).toEqualTypeOf<Cached<[id: number, includeRoles: boolean], LoadError | FunctionTimeout, User>>()
    expect(() =>
      // @ts-expect-error the timeouts take numbers of milliseconds
      withTimeouts({ softMs: '50' }),
    ).toThrow('timeouts.softMs')
    expect(() =>
      // @ts-expect-error refresh ahead takes its options or true
      withRefreshAhead(0.8),
    ).toThrow('refreshAhead')
  })

  it('cacheable takes the new options with their types', () => {
    const f = cacheable({ store, name: 'typed', failSafe: true, timeouts: { softMs: 50, hardMs: 2000 }, refreshAhead: { beta: 1 }, jitter: 0.1, clock: manualClock() })(
      async (id: number) => ({ id }),
    )
    expectTypeOf(f).toEqualTypeOf<CacheableFunction<[id: number], { id: number }>>()
    expect(() =>
      // @ts-expect-error failSafe is true or its options
      cacheable({ store, failSafe: 'yes' }),
    ).toThrow('failSafe')
    expectTypeOf<CacheableOptions['backgroundWrites']>().toEqualTypeOf<boolean | undefined>()
  })

  it('cacheable checks an annotated tags function against the function it wraps; an unannotated one gets unknown', () => {
    const fits = cacheable({ store, name: 'typed.tags', tags: ([id]: readonly [number], user: { id: number }) => [`user:${id}`, `n:${user.id}`] })(async (id: number) => ({ id }))
    expectTypeOf(fits).toEqualTypeOf<CacheableFunction<[id: number], { id: number }>>()
    const unannotated = cacheable({
      store,
      name: 'typed.untagged',
      tags: ([id], value) => {
        expectTypeOf(id).toEqualTypeOf<unknown>()
        expectTypeOf(value).toEqualTypeOf<unknown>()
        return [String(id)]
      },
    })((id: number) => id)
    expectTypeOf(unannotated).toEqualTypeOf<CacheableFunction<[id: number], number>>()
    // Checked by tsc only: these do not compile.
    const refused = (): void => {
      // @ts-expect-error the tags function takes a string, the function a number
      cacheable({ store, tags: ([id]: readonly [string]) => [id.toUpperCase()] })(async (id: number) => id)
      // @ts-expect-error the tags function takes a string value, the function returns a number
      cacheable({ store, tags: (_args: readonly [number], value: string) => [value] })(async (id: number) => id)
    }
    expect(typeof refused).toBe('function')
    class Users {
      @cacheable({ store, tags: ([id]: readonly [number]) => [`user:${id}`] })
      async get(id: number): Promise<{ id: number }> {
        return { id }
      }
    }
    expectTypeOf(new Users().get).toEqualTypeOf<(id: number) => Promise<{ id: number }>>()
  })

  it('withTtl given a function checks it against the value type', () => {
    const byValue = pipe(loadUser, cache(store), withTtl((user: User) => (user.id > 0 ? 60 : 5)))
    expectTypeOf(byValue).toEqualTypeOf<Cached<[id: number, includeRoles: boolean], LoadError | CacheError, User>>()
    // @ts-expect-error a TTL function over another type is refused
    pipe(loadUser, cache(store), withTtl((s: string) => s.length))
  })

  it('withTtl infers the value of a TTL function from the pipeline, without an annotation', () => {
    const byValue = pipe(loadUser, cache(store), withTtl((user) => (user.id > 0 ? 60 : 5)))
    expectTypeOf(byValue).toEqualTypeOf<Cached<[id: number, includeRoles: boolean], LoadError | CacheError, User>>()
  })

  it('orElse gives the pipeline the error type of its fallback, with the error and arguments inferred', () => {
    const recovered = pipe(
      loadUser,
      cache(store),
      orElse((error, [id, includeRoles]) => {
        expectTypeOf(error).toEqualTypeOf<LoadError | CacheError>()
        expectTypeOf(id).toEqualTypeOf<number>()
        expectTypeOf(includeRoles).toEqualTypeOf<boolean>()
        return CE.isCacheError(error) ? TE.right<never, User>({ id, name: 'fallback' }) : TE.left('not found' as const)
      }),
    )
    expectTypeOf(recovered).toEqualTypeOf<Cached<[id: number, includeRoles: boolean], 'not found', User>>()
    const total = pipe(loadUser, cache(store), orElse(() => TE.right<never, User>({ id: 0, name: 'anyone' })))
    expectTypeOf(total).toEqualTypeOf<Cached<[id: number, includeRoles: boolean], never, User>>()
    // @ts-expect-error the fallback must give the pipeline's value type
    pipe(loadUser, cache(store), orElse(() => TE.right(42)))
    // steps applied after orElse keep its error type
    expectTypeOf(pipe(total, withTtl(5), withDedup())).toEqualTypeOf<Cached<[id: number, includeRoles: boolean], never, User>>()
  })

  it('orElse(uncached()) removes CacheError as orElseUncached does, and a fallback gets the call', () => {
    const viaOrElse = pipe(loadUser, cache(store), orElse(uncached()))
    expectTypeOf(viaOrElse).toEqualTypeOf<Cached<[id: number, includeRoles: boolean], LoadError, User>>()
    expectTypeOf(pipe(loadUser, cache(store), orElseUncached())).toEqualTypeOf(viaOrElse)
    pipe(
      loadUser,
      cache(store),
      orElse((error, args, call) => {
        expectTypeOf(call).toEqualTypeOf<Invocation<[id: number, includeRoles: boolean], LoadError | CacheError, User>>()
        return CE.isCacheError(error) ? uncached()(error, args, call) : TE.left(error)
      }),
    )
  })

  it('step keeps the types, around may change the error and the value, and both take a Cached only', () => {
    const tenant: Step = step('tenant', (plan) => {
      expectTypeOf(plan).toEqualTypeOf<Plan>()
      return { prefix: `acme-${plan.prefix}` }
    })
    expectTypeOf(pipe(loadUser, cache(store), tenant)).toEqualTypeOf<Cached<[id: number, includeRoles: boolean], LoadError | CacheError, User>>()
    const named = pipe(
      loadUser,
      cache(store),
      around('named', (call) => {
        expectTypeOf(call).toEqualTypeOf<Invocation<[id: number, includeRoles: boolean], LoadError | CacheError, User>>()
        expectTypeOf(call.key()).toEqualTypeOf<E.Either<CacheError, string>>()
        return pipe(
          call.proceed,
          TE.map((user) => user.name),
          TE.mapError((error) => ({ error, args: call.args })),
        )
      }),
    )
    expectTypeOf(named).toEqualTypeOf<
      Cached<[id: number, includeRoles: boolean], { error: LoadError | CacheError; args: [id: number, includeRoles: boolean] }, string>
    >()
    // @ts-expect-error a step applies to a cached function, not to the plain one
    expect(() => pipe(loadUser, tenant)).toThrow(/tenant: self/)
  })

  it('withNegativeCache infers the error its `when` gets from the pipeline, and keeps the types', () => {
    const remembered = pipe(
      loadUser,
      cache(store),
      withNegativeCache({
        when: (error) => {
          // A CacheError is never given to it.
          expectTypeOf(error).toEqualTypeOf<LoadError>()
          return error._tag === 'LoadError'
        },
      }),
    )
    expectTypeOf(remembered).toEqualTypeOf<Cached<[id: number, includeRoles: boolean], LoadError | CacheError, User>>()
    expectTypeOf<CacheableOptions['negativeCache']>().toEqualTypeOf<{ ttlSeconds?: number | undefined; when?: ((error: unknown) => boolean) | undefined } | undefined>()
  })

  it('withDecoder gives the result the decoder type, and refuses a decoder of another type', () => {
    const UserCodec = t.type({ id: t.number, name: t.string })
    const decoded = pipe(
      (id: number) => Promise.resolve<t.TypeOf<typeof UserCodec>>({ id, name: 'x' }),
      cache(store),
      withDecoder(UserCodec),
    )
    expectTypeOf(decoded).toEqualTypeOf<Cached<[id: number], unknown, { id: number; name: string }>>()
    // @ts-expect-error the decoder's type must be the function's value type
    pipe((id: number) => Promise.resolve(id), cache(store), withDecoder(UserCodec))
  })

  it('cacheable keeps parameters and returns a Promise of the awaited result', () => {
    const wrapped = cacheable({ store, name: 'typed' })(async (id: number, tag?: string) => ({ id, tag }))
    expectTypeOf(wrapped).toEqualTypeOf<CacheableFunction<[id: number, tag?: string], { id: number; tag: string | undefined }>>()
    expectTypeOf(wrapped).parameters.toEqualTypeOf<[id: number, tag?: string]>()
    expectTypeOf(wrapped(1)).toEqualTypeOf<Promise<{ id: number; tag: string | undefined }>>()
    expectTypeOf(wrapped.invalidate).toEqualTypeOf<(id: number, tag?: string) => Promise<void>>()
    const sync = cacheable({ store, name: 'sum' })((a: number, b: number) => a + b)
    expectTypeOf(sync).returns.toEqualTypeOf<Promise<number>>()
    expectTypeOf(invalidate(wrapped, 1, 'x')).toEqualTypeOf<Promise<void>>()
    // @ts-expect-error invalidate checks the arguments against the function
    void invalidate(wrapped, 'not a number')
  })

  it('the decorator keeps the method type and refuses a method that does not return a Promise', () => {
    class Service {
      @cacheable({ store })
      async find(id: number): Promise<User> {
        return { id, name: 'x' }
      }
    }
    expectTypeOf(new Service().find).toEqualTypeOf<(id: number) => Promise<User>>()
    class Bad {
      // @ts-expect-error a cached method returns a Promise, so the method must too
      @cacheable({ store })
      find(id: number): User {
        return { id, name: 'x' }
      }
    }
    expect(Bad).toBeDefined()
  })
})
