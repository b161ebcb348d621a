/**
 * One spare object of each class on a call's path, kept for as long as the library is loaded.
 *
 * V8 optimizes the engine's code for the layout (hidden class) of the objects it meets: a pipeline's
 * in-flight map, its fence, its store, its key builder, its serializer. It keeps a layout only while
 * some object has it. When every cache of an app has been dropped (a test that makes its own, a cache
 * per tenant, each round of a benchmark), the next object made gets a new layout and all the code
 * optimized for the old one is thrown away, to be run slowly and optimized again: measured on the
 * cold-miss benchmark, the first 10,000 calls of each new cache took about twice as long. A spare
 * that lives on keeps the layout, and with it the optimized code.
 *
 * The classes are used instead of objects of closures for the same reason: V8 ties optimized code to
 * the functions it calls, and closures are new functions for every object (see `sync.ts`).
 */

let spares: Map<string, object> | undefined

/** Makes one spare `kind` with `make`, the first time only, and keeps it. */
export const keepSpare = (kind: string, make: () => object): void => {
  spares ??= new Map()
  if (!spares.has(kind)) spares.set(kind, make())
}
