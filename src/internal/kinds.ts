/**
 * What kind of object a value is, for the key encoder and the serializer: a plain object, an array,
 * one of the built-ins they support, or anything else. Built-ins are recognised across realms (a
 * plain object made in a `vm` context or by `structuredClone` in a test runner is still plain), and
 * subclasses are not mistaken for their base: a subclass may hold state the encoders would lose.
 */

export type Kind = 'Object' | 'Array' | 'Date' | 'Map' | 'Set' | 'Uint8Array' | 'other'

const supported: ReadonlySet<string> = new Set(['Array', 'Date', 'Map', 'Set', 'Uint8Array'])

export const kindOf = (value: object): Kind => {
  const proto = Object.getPrototypeOf(value) as object | null
  if (proto === null) return 'Object'
  const name = (proto as { constructor?: { name?: unknown } }).constructor?.name
  if (name === 'Object') {
    return Object.getPrototypeOf(proto) === null && Object.prototype.toString.call(value) === '[object Object]' ? 'Object' : 'other'
  }
  if (typeof name !== 'string' || !supported.has(name)) return 'other'
  // The built-in's own prototype, not a subclass's: its constructor is a native function of that name.
  const ctor = (proto as { constructor: unknown }).constructor
  if (typeof ctor !== 'function' || !Function.prototype.toString.call(ctor).includes('[native code]')) return 'other'
  return name as Kind
}

/** "an instance of Foo", for messages. */
export const describeInstance = (value: object): string => {
  const name = (Object.getPrototypeOf(value) as { constructor?: { name?: unknown } } | null)?.constructor?.name
  return typeof name === 'string' && name !== '' ? `an instance of ${name}` : 'an object with a custom prototype'
}
