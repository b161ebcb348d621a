/**
 * Option groups described once, as io-ts codecs: the combinator and the `cacheable` option of the
 * same idea decode with the same codec, so the check, the error that names the option, and the type
 * (`t.TypeOf`) come from one place. Groups are strict: an unknown field is an error that names it
 * (and the field it was probably meant to be), never silently dropped.
 */
import type { Tracer } from '@opentelemetry/api'
import * as E from 'fp-ts/lib/Either.js'
import * as t from 'io-ts'
import type { CacheError } from '../CacheError.js'
import type { Clock } from '../Clock.js'
import * as CE from '../CacheError.js'
import { toError } from '../errors.js'
import type { KeyBuilder } from '../Key.js'
import { KEY_NAME, KEY_PART, isKeyName, isKeyPart } from '../Key.js'
import type { Logger } from '../Logger.js'
import type { Serializer } from '../Serializer.js'
import type { Store } from '../Store.js'
import type { Bus } from './parts.js'

/** A safe integer greater than zero. */
export const positiveInteger = new t.Type<number, number, unknown>(
  'a positive integer',
  (u): u is number => typeof u === 'number' && Number.isSafeInteger(u) && u > 0,
  (u, c) => (typeof u === 'number' && Number.isSafeInteger(u) && u > 0 ? t.success(u) : t.failure(u, c)),
  t.identity,
)

/** A number from `min` to `max`, both included. */
export const numberBetween = (min: number, max: number) =>
  new t.Type<number, number, unknown>(
    `a number from ${min} to ${max}`,
    (u): u is number => typeof u === 'number' && u >= min && u <= max,
    (u, c) => (typeof u === 'number' && u >= min && u <= max ? t.success(u) : t.failure(u, c)),
    t.identity,
  )

/** A number strictly between 0 and 1 (a fraction of a TTL), described as `name`. */
export const fraction = (name = 'a number greater than 0 and less than 1') =>
  new t.Type<number, number, unknown>(
    name,
    (u): u is number => typeof u === 'number' && u > 0 && u < 1,
    (u, c) => (typeof u === 'number' && u > 0 && u < 1 ? t.success(u) : t.failure(u, c)),
    t.identity,
  )

/** A finite number greater than 0. */
export const positiveNumber = new t.Type<number, number, unknown>(
  'a finite number greater than 0',
  (u): u is number => typeof u === 'number' && Number.isFinite(u) && u > 0,
  (u, c) => (typeof u === 'number' && Number.isFinite(u) && u > 0 ? t.success(u) : t.failure(u, c)),
  t.identity,
)

/** An optional field: absent or `undefined` both mean "the default" (`exactOptionalPropertyTypes`-friendly). */
export const optional = <C extends t.Mixed>(codec: C) => t.union([codec, t.undefined], codec.name)

/** A positive integer number of seconds. */
/** The longest TTL Dapr's state stores take (`state/utils/ttl.go`: at most MaxInt32), and the longest a timer waits, in ms. */
export const MAX_INT32 = 2_147_483_647

const upTo = (name: string, max: number) =>
  new t.Type<number, number, unknown>(
    name,
    (u): u is number => positiveInteger.is(u) && u <= max,
    (u, c) => (positiveInteger.is(u) && u <= max ? t.success(u) : t.failure(u, c)),
    t.identity,
  )

/** A safe integer from 0 to `max` (a count, or a time where 0 means "once, at once"). */
export const nonNegativeInteger = (name: string, max = Number.MAX_SAFE_INTEGER) =>
  new t.Type<number, number, unknown>(
    name,
    (u): u is number => typeof u === 'number' && Number.isSafeInteger(u) && u >= 0 && u <= max,
    (u, c) => (typeof u === 'number' && Number.isSafeInteger(u) && u >= 0 && u <= max ? t.success(u) : t.failure(u, c)),
    t.identity,
  )

export const seconds = upTo('a positive integer number of seconds, at most 2147483647 (what Dapr state stores take)', MAX_INT32)

/** A delay or a deadline: a timer cannot wait longer (Node clamps a longer one to 1 ms). */
export const milliseconds = upTo('a positive integer number of milliseconds, at most 2147483647 (the longest a timer waits)', MAX_INT32)

/** A part of a key (a prefix, a store name): see `isKeyPart`. */
export const keyPart = new t.Type<string, string, unknown>(KEY_PART, isKeyPart, (u, c) => (isKeyPart(u) ? t.success(u) : t.failure(u, c)), t.identity)

/** A function's name in its keys: see `isKeyName`. */
export const keyName = new t.Type<string, string, unknown>(KEY_NAME, isKeyName, (u, c) => (isKeyName(u) ? t.success(u) : t.failure(u, c)), t.identity)

/** An object with these methods (a store, a serializer, a sink, ...), typed as `A`. */
export const withMethods = <A>(name: string, methods: ReadonlyArray<string>) => {
  const is = (u: unknown): u is A =>
    typeof u === 'object' && u !== null && methods.every((method) => typeof (u as Record<string, unknown>)[method] === 'function')
  return new t.Type<A, A, unknown>(name, is, (u, c) => (is(u) ? t.success(u) : t.failure(u, c)), t.identity)
}

/**
 * A group of optional fields that refuses fields it does not know (`noun` names them in that
 * error: field, option). The decoded type is `{ field?: T | undefined }` for each field; JSDoc
 * written on a field of `props` is the field's documentation in the type.
 */
export const group = <P extends t.Props>(name: string, props: P, noun = 'field') => {
  const fields = t.partial(props)
  const known = Object.keys(props)
  return new t.Type<t.TypeOf<typeof fields>, t.OutputOf<typeof fields>, unknown>(
    name,
    (u): u is t.TypeOf<typeof fields> => fields.is(u) && Object.keys(u as object).every((key) => known.includes(key)),
    (u, c) => {
      if (typeof u !== 'object' || u === null || Array.isArray(u)) return t.failure(u, c, `an options object`)
      const unknown = Object.keys(u).find((key) => !known.includes(key))
      if (unknown !== undefined) {
        const near = known.find((key) => key.toLowerCase().startsWith(unknown.toLowerCase()) || unknown.toLowerCase().startsWith(key.toLowerCase()))
        // Its value is not shown: an option given to the wrong function may hold a secret.
        return t.failure(
          CE.NOT_SHOWN,
          t.appendContext(c, unknown, t.never, undefined),
          `a known ${noun}${near === undefined ? '' : ` (did you mean \`${near}\`?)`}; the ${noun}s are ${known.join(', ')}`,
        )
      }
      return fields.validate(u, c)
    },
    fields.encode,
  )
}

/**
 * `codec`, and then `check` on what it decoded: `check` names the field that is wrong and what it
 * expected, or gives undefined. For rules that tie fields together (`softMs` below `hardMs`).
 */
export const checked = <A, O>(codec: t.Type<A, O, unknown>, check: (a: A) => { readonly field: string; readonly expected: string } | undefined) =>
  new t.Type<A, O, unknown>(
    codec.name,
    (u): u is A => codec.is(u) && check(u) === undefined,
    (u, c) => {
      const decoded = codec.validate(u, c)
      if (E.isLeft(decoded)) return decoded
      const wrong = check(decoded.right)
      if (wrong === undefined) return decoded
      return t.failure((decoded.right as Record<string, unknown>)[wrong.field], t.appendContext(c, wrong.field, t.never, undefined), wrong.expected)
    },
    codec.encode,
  )

/** `true` (the defaults) or an options group: what `cacheable({ l1: true | {...} })` takes. */
export const trueOr = <C extends t.Mixed>(codec: C) => t.union([t.literal(true), codec], `true or ${codec.name}`)

/**
 * Decodes the value of option `option` (a dotted path in messages, after `option` and `separator`),
 * or gives the error that names it.
 */
export const decodeOption = <A>(option: string, codec: t.Decoder<unknown, A>, value: unknown, separator = '.'): E.Either<CacheError, A> => {
  const decoded = codec.decode(value)
  if (E.isRight(decoded)) return decoded
  // In a union every branch fails; the deepest failure is the one that says what was wrong.
  const first = decoded.left.reduce<t.ValidationError | undefined>((deepest, error) => (deepest === undefined || error.context.length > deepest.context.length ? error : deepest), undefined)
  const path = (first?.context ?? [])
    .map((entry) => entry.key)
    .filter((key) => key !== '' && !/^\d+$/.test(key))
  const inside = path.join('.')
  const where = (option === '' ? inside : inside === '' ? option : `${option}${separator}${inside}`) || 'options'
  // Branches of one union that all failed at that depth: the union's own name says what was expected.
  const depth = first?.context.length ?? 0
  const tied = decoded.left.filter((error) => error.context.length === depth && error.message === undefined).length > 1
  const expected = first?.message ?? (tied ? first?.context[depth - 2]?.type.name : undefined) ?? first?.context[depth - 1]?.type.name ?? codec.name
  return E.left(CE.invalidOptions(where, first?.value ?? value, expected))
}

// -------------------------------------------------------------------------------------
// the library's extension points, as option values
// -------------------------------------------------------------------------------------

export const storeCodec = withMethods<Store>('a Store (an object with get, set and delete)', ['get', 'set', 'delete'])
export const serializerCodec = withMethods<Serializer>('an object with serialize and deserialize methods', ['serialize', 'deserialize'])
export const keyBuilderCodec = withMethods<KeyBuilder>('an object with a buildKey(name, args) method', ['buildKey'])
export const loggerCodec = withMethods<Logger>('an object with a warn method', ['warn'])
export const clockCodec = withMethods<Clock>('a Clock (an object with now())', ['now'])
export const tracerCodec = withMethods<Tracer>('an OpenTelemetry Tracer', ['startSpan'])
export const busCodec = withMethods<Bus>('a backplane (see backplane())', ['publish', 'subscribe', 'trusted'])
/** A function, typed as `F` (the codec can only check that it is one). */
export const functionOf = <F extends (...args: never) => unknown>(name = 'a function') => {
  const is = (u: unknown): u is F => typeof u === 'function'
  return new t.Type<F, F, unknown>(name, is, (u, c) => (is(u) ? t.success(u) : t.failure(u, c)), t.identity)
}
export const functionCodec = functionOf<(...args: never) => unknown>()

/** Decodes an option or throws the `CacheOptionsError` that names it: for checks at wrap time. */
export const checkOption = <A>(option: string, codec: t.Decoder<unknown, A>, value: unknown, separator = '.'): A => {
  const decoded = decodeOption(option, codec, value, separator)
  if (E.isLeft(decoded)) throw toError(decoded.left)
  return decoded.right
}
