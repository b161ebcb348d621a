import * as CE from '../src/CacheError.js'
import {
  CacheConnectionError,
  CacheError,
  CacheKeyError,
  CacheOptionsError,
  CacheSerializationError,
  CacheStoreError,
  toError,
} from '../src/errors.js'

const samples: ReadonlyArray<CE.CacheError> = [
  CE.keyError('k'),
  CE.serializationError('serialize', 's'),
  CE.validationError('v'),
  CE.connectionError('c', { cause: new Error('ECONNREFUSED') }),
  CE.timeoutError(50, 't'),
  CE.storeRejected(500, 'r', { errorCode: 'ERR_STATE_GET' }),
  CE.invalidOptions('ttlSeconds', -1, 'a positive integer'),
  CE.circuitOpen('cache', Date.UTC(2026, 0, 1)),
  CE.valueTooLarge('read', 5_000_000, 3_145_728),
]

describe('CacheError values', () => {
  it('carry a stable code per tag', () => {
    expect(samples.map((e) => [e._tag, e.code])).toEqual([
      ['KeyError', 'E_CACHE_KEY'],
      ['SerializationError', 'E_CACHE_SERIALIZATION'],
      ['ValidationError', 'E_CACHE_VALIDATION'],
      ['ConnectionError', 'E_CACHE_CONNECTION'],
      ['TimeoutError', 'E_CACHE_TIMEOUT'],
      ['StoreRejected', 'E_CACHE_STORE_REJECTED'],
      ['InvalidOptions', 'E_CACHE_INVALID_OPTIONS'],
      ['CircuitOpen', 'E_CACHE_CIRCUIT_OPEN'],
      ['ValueTooLarge', 'E_CACHE_VALUE_TOO_LARGE'],
    ])
  })

  it('are recognised by isCacheError, and look-alikes are not', () => {
    expect(samples.every(CE.isCacheError)).toBe(true)
    expect(CE.isCacheError({ _tag: 'KeyError', code: 'E_OTHER' })).toBe(false)
    expect(CE.isCacheError({ _tag: 'Nope', code: 'E_CACHE_KEY' })).toBe(false)
    expect(CE.isCacheError(new Error('x'))).toBe(false)
    expect(CE.isCacheError(null)).toBe(false)
  })

  it('match is exhaustive and dispatches on the tag', () => {
    const describe = CE.match({
      KeyError: () => 'key',
      SerializationError: (e) => `serialization:${e.operation}`,
      ValidationError: () => 'validation',
      ConnectionError: () => 'connection',
      TimeoutError: (e) => `timeout:${e.timeoutMs}`,
      StoreRejected: (e) => `rejected:${e.status}:${e.errorCode ?? ''}`,
      InvalidOptions: (e) => `options:${e.option}`,
      CircuitOpen: (e) => `open:${new Date(e.retryAt).toISOString()}`,
      ValueTooLarge: (e) => `too-large:${e.operation}:${e.sizeBytes}>${e.limitBytes}`,
    })
    expect(samples.map(describe)).toEqual([
      'key',
      'serialization:serialize',
      'validation',
      'connection',
      'timeout:50',
      'rejected:500:ERR_STATE_GET',
      'options:ttlSeconds',
      'open:2026-01-01T00:00:00.000Z',
      'too-large:read:5000000>3145728',
    ])
  })

  it('withKey adds a key once and keeps an existing one', () => {
    expect(CE.withKey('a')(CE.keyError('x')).key).toBe('a')
    expect(CE.withKey('b')(CE.keyError('x', { key: 'a' })).key).toBe('a')
  })

  it('invalidOptions names the option, the expectation and the value', () => {
    expect(CE.invalidOptions('ttlSeconds', -1, 'a positive integer').message).toBe(
      'invalid option `ttlSeconds`: expected a positive integer, got -1',
    )
    expect(CE.describe('x'.repeat(100))).toHaveLength(62)
    expect(CE.describe(new Map())).toBe('an instance of Map')
    expect(CE.describe(() => 1)).toBe('an anonymous function')
  })
})

describe('toError', () => {
  it('makes the facade class that matches the failure, keeping code, key, cause and the value', () => {
    const classes = samples.map((failure) => toError(CE.withKey('the-key')(failure)))
    expect(classes.map((e) => e.constructor)).toEqual([
      CacheKeyError,
      CacheSerializationError,
      CacheSerializationError,
      CacheConnectionError,
      CacheConnectionError,
      CacheStoreError,
      CacheOptionsError,
      CacheConnectionError,
      CacheStoreError,
    ])
    for (const [index, error] of classes.entries()) {
      expect(error).toBeInstanceOf(CacheError)
      expect(error).toBeInstanceOf(Error)
      expect(error.code).toBe(samples[index]?.code)
      expect(error.key).toBe('the-key')
      expect(error.failure._tag).toBe(samples[index]?._tag)
    }
    expect(classes[3]?.cause).toBeInstanceOf(Error)
    const rejected = classes[5] as CacheStoreError
    expect([rejected.status, rejected.errorCode, rejected.name]).toEqual([500, 'ERR_STATE_GET', 'CacheStoreError'])
    expect((classes[6] as CacheOptionsError).option).toBe('ttlSeconds')
  })
})
