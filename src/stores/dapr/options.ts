/**
 * The `DaprStore`'s option checks: a bad option throws a `CacheOptionsError` naming it, and the
 * sidecar's address comes from the option or from Dapr's environment variables.
 */
import type { CacheError } from '../../CacheError.js'
import * as CE from '../../CacheError.js'
import { toError } from '../../errors.js'

// -------------------------------------------------------------------------------------
// options
// -------------------------------------------------------------------------------------

export const fail = (error: CacheError): never => {
  throw toError(error)
}

export const positiveInteger = (option: string, value: number | undefined, fallback: number, max = Number.MAX_SAFE_INTEGER): number => {
  if (value === undefined) return fallback
  return Number.isSafeInteger(value) && value > 0 && value <= max ? value : fail(CE.invalidOptions(option, value, max === Number.MAX_SAFE_INTEGER ? 'a positive integer' : `a positive integer, at most ${max}`))
}

/** The sidecar's origin, from the option or the environment, checked. */
export const resolveDaprUrl = (explicit: string | undefined, env: Readonly<Record<string, string | undefined>>): string => {
  const nonEmpty = (value: string | undefined) => (value === undefined || value.trim() === '' ? undefined : value.trim())
  const [option, raw] =
    nonEmpty(explicit) !== undefined
      ? ['daprUrl', nonEmpty(explicit) as string]
      : nonEmpty(env['DAPR_HTTP_ENDPOINT']) !== undefined
        ? ['DAPR_HTTP_ENDPOINT', nonEmpty(env['DAPR_HTTP_ENDPOINT']) as string]
        : [
            'DAPR_HTTP_HOST/DAPR_HTTP_PORT',
            `http://${nonEmpty(env['DAPR_HTTP_HOST']) ?? nonEmpty(env['DAPR_RUNTIME_HOST']) ?? '127.0.0.1'}:${nonEmpty(env['DAPR_HTTP_PORT']) ?? '3500'}`,
          ]
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    return fail(CE.invalidOptions(option, redacted(raw), 'an http(s) URL such as http://127.0.0.1:3500'))
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    fail(CE.invalidOptions(option, redacted(raw), 'an http: or https: URL'))
  }
  if (url.username !== '' || url.password !== '' || url.search !== '' || url.hash !== '' || (url.pathname !== '/' && url.pathname !== '')) {
    fail(CE.invalidOptions(option, redacted(raw), 'a bare origin (scheme, host and port; no path, query or credentials)'))
  }
  return url.origin
}

/**
 * `raw` as an error may show it: credentials (`user:secret@`), a query and a fragment, which may
 * hold a token, are replaced by `***`, whether or not `raw` parses as a URL.
 */
export const redacted = (raw: string): string =>
  raw
    .replace(/^((?:[^:/?#]+:)?\/\/)?[^/?#]*@/, (_, scheme: string | undefined) => `${scheme ?? ''}***@`)
    .replace(/\?[^#]*/, '?***')
    .replace(/#.*$/, '#***')
