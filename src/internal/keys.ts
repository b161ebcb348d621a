/**
 * The keys of one cached function, as the engine asks for them: a class per kind of builder (a
 * function without a name, the default Python-compatible builder, the user's own), so that the call
 * path meets one shape per kind (see `sync.ts`).
 */
import * as E from 'fp-ts/lib/Either.js'
import type { CacheError } from '../CacheError.js'
import * as CE from '../CacheError.js'
import type { KeyBuilder, KeyMaker } from '../Key.js'
import { checkKey, pythonKeys } from '../Key.js'
import type { Keys } from './recipe.js'

/** The keys of a function without a name: none, and the call runs uncached. */
class Unnamed implements Keys {
  private readonly missing = E.left(
    CE.keyError('the cached function has no name a key can hold: give it one with `withKey(name)` or the `name` option (anonymous functions have none)'),
  )

  keyOf(): E.Either<CacheError, string> {
    return this.missing
  }
}

/** The default, Python-compatible keys of the function called `name`. */
class Named implements Keys {
  constructor(
    private readonly maker: KeyMaker,
    private readonly name: string,
  ) {}

  keyOf(args: ReadonlyArray<unknown>): E.Either<CacheError, string> {
    return this.maker.tryBuildKey(this.name, args)
  }
}

/** Keys from the user's own builder, checked; a throw is a `KeyError` for that call. */
class Custom implements Keys {
  constructor(
    private readonly builder: KeyBuilder,
    private readonly name: string,
  ) {}

  keyOf(args: ReadonlyArray<unknown>): E.Either<CacheError, string> {
    try {
      return checkKey(this.builder.buildKey(this.name, args))
    } catch (cause) {
      return E.left(CE.keyError(`the custom key builder failed: ${CE.messageOf(cause)}`, { cause }))
    }
  }
}

/** The keys of a function called `name` (none without one), with `prefix` or the user's builder. */
export const keysOf = (name: string | undefined, prefix: string, keyBuilder: KeyBuilder | undefined): Keys => {
  if (name === undefined) return new Unnamed()
  if (keyBuilder !== undefined) return new Custom(keyBuilder, name)
  return new Named(pythonKeys(prefix), name)
}

/** The first part of every key unless a step says otherwise, as in the Python library. */
export const DEFAULT_PREFIX = 'cache'
