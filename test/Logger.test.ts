import * as CE from '../src/CacheError.js'
import { manualClock } from '../src/Clock.js'
import { cacheWarnings } from '../src/Logger.js'
import { collectingLogger } from './helpers.js'

describe('cacheWarnings', () => {
  it('says one line per error code per interval, then how many it held back', () => {
    const clock = manualClock(0)
    const logger = collectingLogger()
    const report = cacheWarnings({ logger, clock, intervalMs: 60_000 })
    for (let i = 0; i < 1000; i++) report(`cache:f:${i}`, CE.connectionError('connection refused'))
    report('cache:f:x', CE.timeoutError(50, 'slow'))
    expect(logger.lines).toHaveLength(2)
    expect(logger.lines[0]).toBe('dapr-state-cache: E_CACHE_CONNECTION connection refused; the call ran uncached')
    clock.advance(60_000)
    report('cache:f:y', CE.connectionError('connection refused'))
    expect(logger.lines).toHaveLength(3)
    expect(logger.lines[2]).toMatch(/\(999 more since the last warning\)$/)
  })

  it('a logger that throws does not break the call', () => {
    const report = cacheWarnings({
      logger: {
        warn: () => {
          throw new Error('log sink down')
        },
      },
    })
    expect(() => report('k', CE.keyError('x'))).not.toThrow()
  })

  it('accepts console-like and pino-like loggers (warn, and optionally error and debug)', () => {
    const seen: Array<[string, unknown]> = []
    const pinoLike = { warn: (message: string, meta?: unknown) => seen.push([message, meta]), error: () => undefined, debug: () => undefined }
    cacheWarnings({ logger: pinoLike })('cache:f:1', CE.storeRejected(500, 'boom', { errorCode: 'ERR_STATE_GET' }))
    expect(seen).toEqual([[expect.stringContaining('E_CACHE_STORE_REJECTED') as unknown, { code: 'E_CACHE_STORE_REJECTED', key: 'cache:f:1' }]])
  })
})
