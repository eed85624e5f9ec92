/** JSON helpers the simulators share. */

/** A JSON object: not null, not an array. */
export function isJsonObject (value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
}

/** `value` as it stands inside a JSON string literal: quotes, backslashes and control characters escaped. */
export function jsonEscape (value: string): string {
  return JSON.stringify(value).slice(1, -1)
}
