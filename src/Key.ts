/**
 * Cache keys: `{prefix}:{name}:{hash}`, the Python library's format.
 *
 * `hash` is the first 16 hex digits of SHA-256 over Python's `json.dumps({"args": [...], "kwargs": {}},
 * sort_keys=True)` of the call's arguments, reproduced exactly (see `internal/pythonJson.ts`), so a
 * TypeScript and a Python service with the same `name` share entries. Arguments that cannot be keyed
 * (functions, symbols, circular structures, class instances without `toJSON`) are a `KeyError`
 * value: the call runs uncached rather than risk two calls sharing one key.
 *
 * This module does not bind arguments to parameter names (there are no keyword arguments) and does
 * not include `this` in keys: entries are shared across instances, as in the original.
 *
 * @since 0.1.0
 */
import * as crypto from 'node:crypto'
import * as E from 'fp-ts/lib/Either.js'
import type { CacheError } from './CacheError.js'
import * as CE from './CacheError.js'
import { toError } from './errors.js'
import type { Shapes } from './internal/pythonJson.js'
import { encodeArgs, shapesMemo } from './internal/pythonJson.js'

// -------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------

/**
 * Builds the whole key for a call. May throw; the engine turns a throw into a `KeyError`.
 *
 * @category model
 * @since 0.1.0
 */
export interface KeyBuilder {
  /** The whole key for a call of the function named `name` with `args`; may throw (a `KeyError` for that call). */
  buildKey(name: string, args: ReadonlyArray<unknown>): string
}

/**
 * The default builder, which also answers without throwing.
 *
 * @category model
 * @since 0.1.0
 */
export interface DefaultKeyBuilder extends KeyBuilder {
  readonly prefix: string
  /** The same key as a value: `Left` a `KeyError` when the arguments cannot be keyed. */
  tryBuildKey(name: string, args: ReadonlyArray<unknown>): E.Either<CacheError, string>
}

// -------------------------------------------------------------------------------------
// constructors
// -------------------------------------------------------------------------------------

/**
 * The exact string that is hashed for these arguments.
 *
 * @category constructors
 * @since 0.1.0
 */
export const hashInput = (args: ReadonlyArray<unknown>): E.Either<CacheError, string> => {
  const encoded = encodeArgs(args)
  return encoded.ok ? E.right(encoded.json) : E.left(CE.keyError(encoded.message))
}

/**
 * The first 16 hex digits of the SHA-256 of `input` (as UTF-8).
 *
 * @category constructors
 * @since 0.1.0
 */
export const hash = (input: string): string => crypto.hash('sha256', input, 'hex').slice(0, 16)

/**
 * `{prefix}:{name}:{hash}` for a call with `args`.
 *
 * @category constructors
 * @since 0.1.0
 */
export const makeKey = (prefix: string, name: string, args: ReadonlyArray<unknown>): E.Either<CacheError, string> => {
  const encoded = encodeArgs(args)
  return encoded.ok ? E.right(flat(`${prefix}:${name}:${hash(encoded.json)}`)) : E.left(CE.keyError(encoded.message))
}

/**
 * `key`, made one string. V8 keeps a concatenation as a tree of its parts, and the digest part is a
 * slice that keeps the whole 64-digit hex it was cut from; reading a character joins the parts in
 * place. A key kept by a store (and every key is) then costs half the memory: about 90 bytes instead
 * of 180, which a cold miss pays again in garbage collection.
 */
const flat = (key: string): string => {
  key.charCodeAt(0)
  return key
}

// -------------------------------------------------------------------------------------
// validation
// -------------------------------------------------------------------------------------

/** A lone UTF-16 surrogate: a string holding one has no UTF-8 form, so no Dapr key (or Python `str` key) can be made of it. */
const LONE_SURROGATE = /\p{Cs}/u

/**
 * Whether `value` can be part of a key: a non-empty string without `||` (Dapr reserves it) and
 * without a lone UTF-16 surrogate (it has no UTF-8 form).
 *
 * @category validation
 * @since 0.4.0
 */
export const isKeyPart = (value: unknown): value is string =>
  typeof value === 'string' && value !== '' && !value.includes('||') && !LONE_SURROGATE.test(value)

/** What `isKeyPart` asks for, in words. */
export const KEY_PART = 'a non-empty string without "||" (Dapr reserves it) or a lone UTF-16 surrogate'

/**
 * Whether `value` can be a function's name in its keys: a key part without `:`. The Python
 * library's names (`module.qualname`) never hold one; with it, `keyPrefix: 'a:b', name: 'c'` and
 * `keyPrefix: 'a', name: 'b:c'` would share every key.
 *
 * @category validation
 * @since 0.4.0
 */
export const isKeyName = (value: unknown): value is string => isKeyPart(value) && !value.includes(':')

/** What `isKeyName` asks for, in words. */
export const KEY_NAME = 'a non-empty string without ":" (it separates the parts of a key), "||" (Dapr reserves it) or a lone UTF-16 surrogate'

/**
 * A key part given as an option (`keyPrefix`, `storeName`): see `isKeyPart`.
 *
 * @category validation
 * @since 0.1.0
 */
export const checkKeyPart = (option: string, value: unknown): E.Either<CacheError, string> =>
  isKeyPart(value) ? E.right(value) : E.left(CE.invalidOptions(option, value, KEY_PART))

/**
 * A whole key returned by a custom builder: a non-empty string without `||` or a lone UTF-16
 * surrogate (no Dapr store could hold it, so no store here takes it either).
 *
 * @category validation
 * @since 0.1.0
 */
export const checkKey = (key: unknown): E.Either<CacheError, string> => {
  if (typeof key !== 'string' || key === '') {
    return E.left(CE.keyError(`the key builder returned ${CE.describe(key)}, not a non-empty string`))
  }
  const problem = daprKeyProblem(key)
  return problem === undefined ? E.right(key) : E.left(problem)
}

/**
 * Why no Dapr store can hold the non-empty `key`: it contains `||` (Dapr reserves it) or a lone
 * UTF-16 surrogate (no UTF-8 form, so no path segment); undefined when it can.
 *
 * @category validation
 * @since 0.4.0
 */
export const daprKeyProblem = (key: string): CacheError | undefined => {
  if (key.includes('||')) return CE.keyError(`the key ${JSON.stringify(key)} contains "||", which Dapr reserves`, { key })
  if (LONE_SURROGATE.test(key)) return CE.keyError(`the key ${JSON.stringify(key)} holds a lone UTF-16 surrogate, which has no UTF-8 form`, { key })
  return undefined
}

// -------------------------------------------------------------------------------------
// instances
// -------------------------------------------------------------------------------------

const INTEGER_HEAD = '{"args": ['

/**
 * For each length of a safe integer's decimal text (its sign included, up to 17), the UTF-8 bytes of
 * `{"args": [<that many digits>], "kwargs": {}}`, whose digits `integerArguments` overwrites.
 */
const integerTemplates = (): ReadonlyArray<Uint8Array> =>
  Array.from({ length: 18 }, (_, length) => new TextEncoder().encode(`${INTEGER_HEAD}${'0'.repeat(length)}], "kwargs": {}}`))

/**
 * What Python hashes for the one argument `n`, a safe integer: `{"args": [n], "kwargs": {}}` as
 * bytes, written into the template of its length (and valid until the next call). Hashing these
 * bytes spares making the text as a string and the hash its copy to UTF-8.
 */
const integerArguments = (templates: ReadonlyArray<Uint8Array>, n: number): Uint8Array => {
  let rest = Math.abs(n)
  let length = n < 0 ? 2 : 1
  for (let x = rest; x >= 10; x = Math.floor(x / 10)) length++
  const bytes = templates[length] as Uint8Array
  let at = INTEGER_HEAD.length + length
  do {
    const next = Math.floor(rest / 10)
    bytes[--at] = 48 + (rest - next * 10) // its last digit, in ASCII
    rest = next
  } while (rest > 0)
  if (n < 0) bytes[INTEGER_HEAD.length] = 45 // '-'
  return bytes
}

const MEMO_ENTRIES = 4096
const MEMO_INPUT_CHARS = 512

/**
 * The default builder's work: a class, so that the engine's code calls the same function for every
 * pipeline (see `internal/sync.ts` for why that matters).
 *
 * Hot keys are built again and again. For the commonest call, one integer, a direct-mapped table
 * (the slot is the integer's low bits) holds the whole key: no Map and no allocation to look it up.
 * One other number or one string: a bounded Map of whole keys. Any other short input: its hash. The
 * memos hold keys for one name (a pipeline has one); another name empties them.
 */
class PythonKeys {
  private readonly intArguments = new Float64Array(MEMO_ENTRIES).fill(Number.NaN) // NaN equals nothing: an empty slot
  // Whole keys, not their Either: a memo that kept a wrapper alive would have the collector copy it.
  private readonly intKeys = new Array<string>(MEMO_ENTRIES).fill('')
  private readonly templates = integerTemplates() // the builder's own: written, then hashed at once
  private readonly hashes = new Map<string, string>()
  private readonly shapes: Shapes = shapesMemo()
  private readonly byNumber = new Map<number, E.Either<CacheError, string>>()
  private readonly byString = new Map<string, E.Either<CacheError, string>>()
  private memoName: string | undefined = undefined
  private head = '' // `${prefix}:${memoName}:`, made once per name

  constructor(readonly prefix: string) {}

  tryBuildKey(name: string, args: ReadonlyArray<unknown>): E.Either<CacheError, string> {
    if (name !== this.memoName) {
      this.memoName = name
      this.head = `${this.prefix}:${name}:`
      this.intArguments.fill(Number.NaN)
      this.byNumber.clear()
      this.byString.clear()
    }
    if (args.length === 1) {
      const argument = args[0]
      // These memos hold whole keys: the hash memo would only remember the same thing twice.
      if (typeof argument === 'number') {
        // -0 keys apart from 0 (it is Python's -0.0) but equals it: it is never remembered.
        if (Object.is(argument, -0)) return this.build(name, args, false)
        if (Number.isSafeInteger(argument)) {
          const slot = argument & (MEMO_ENTRIES - 1)
          if (this.intArguments[slot] === argument) return E.right(this.intKeys[slot] as string)
          // A safe integer is written the same way by both languages: no encoder needed.
          const key = flat(this.head + crypto.hash('sha256', integerArguments(this.templates, argument), 'hex').slice(0, 16))
          this.intArguments[slot] = argument
          this.intKeys[slot] = key
          return E.right(key)
        }
        return this.byNumber.get(argument) ?? remember(this.byNumber, argument, this.build(name, args, false))
      }
      if (typeof argument === 'string' && argument.length <= MEMO_INPUT_CHARS) {
        return this.byString.get(argument) ?? remember(this.byString, argument, this.build(name, args, false))
      }
    }
    return this.build(name, args, true)
  }

  buildKey(name: string, args: ReadonlyArray<unknown>): string {
    const key = this.tryBuildKey(name, args)
    if (E.isLeft(key)) throw toError(key.left)
    return key.right
  }

  private build(name: string, args: ReadonlyArray<unknown>, memo: boolean): E.Either<CacheError, string> {
    const encoded = encodeArgs(args, this.shapes)
    if (!encoded.ok) return E.left(CE.keyError(encoded.message))
    const remembered = memo && encoded.json.length <= MEMO_INPUT_CHARS
    let digest = remembered ? this.hashes.get(encoded.json) : undefined
    if (digest === undefined) {
      digest = hash(encoded.json)
      if (remembered) {
        if (this.hashes.size >= MEMO_ENTRIES) this.hashes.clear()
        this.hashes.set(encoded.json, digest)
      }
    }
    return E.right(flat(name === this.memoName ? this.head + digest : `${this.prefix}:${name}:${digest}`))
  }
}

const remember = <K>(memo: Map<K, E.Either<CacheError, string>>, argument: K, key: E.Either<CacheError, string>): E.Either<CacheError, string> => {
  if (memo.size >= MEMO_ENTRIES) memo.clear()
  memo.set(argument, key)
  return key
}

/** What a pipeline calls on the default builder. */
export interface KeyMaker {
  tryBuildKey(name: string, args: ReadonlyArray<unknown>): E.Either<CacheError, string>
}

/** The default builder's work for `prefix`, as a pipeline uses it. A bad prefix throws a `CacheOptionsError`. */
export const pythonKeys = (prefix: string): KeyMaker => keysFor(prefix)

const keysFor = (prefix: string): PythonKeys => {
  return new PythonKeys(checkedPrefix(prefix))
}

const checkedPrefix = (prefix: string): string => {
  const checked = checkKeyPart('keyPrefix', prefix)
  if (E.isLeft(checked)) throw toError(checked.left)
  return prefix
}

/**
 * The default, Python-compatible key builder for `prefix` (default `"cache"`). A bad prefix throws a
 * `CacheOptionsError`.
 *
 * @category instances
 * @since 0.1.0
 */
export const defaultKeyBuilder = (prefix = 'cache'): DefaultKeyBuilder => {
  const keys = keysFor(prefix)
  return {
    prefix,
    tryBuildKey: (name, args) => keys.tryBuildKey(name, args),
    buildKey: (name, args) => keys.buildKey(name, args),
  }
}

// -------------------------------------------------------------------------------------
// utils
// -------------------------------------------------------------------------------------

/**
 * Any function at all, whatever its parameters.
 *
 * @category utils
 * @since 0.1.0
 */
export type AnyFunction = (...args: never) => unknown

/**
 * A function's own name, or undefined when it has none (anonymous).
 *
 * @category utils
 * @since 0.1.0
 */
export const functionName = (fn: AnyFunction): string | undefined =>
  typeof fn.name === 'string' && fn.name !== '' ? fn.name : undefined
