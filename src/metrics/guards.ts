/**
 * Runtime checks of arguments that the types already describe: JavaScript callers (and JSON) can
 * pass anything, so the metrics validate their inputs before scoring. Internal to the metrics family.
 */

/**
 * `Array.isArray` that keeps a typed argument's element type: `Array.isArray` on a `readonly T[]`
 * would narrow it to `any[]`; this narrows an `unknown` to `readonly unknown[]` and leaves a typed
 * array as it is.
 */
export function isArrayInput(value: unknown): value is readonly unknown[] {
  return Array.isArray(value);
}
