import { isJsonObject as isObject } from '../json.ts'

/** Request validation: the v71 `CheckoutForwardRequest` schema, as a small spec walked by `check`. */

const MAX_REQUEST_BODY = 20_000

type Spec =
  | { type: 'string', minLength?: number, maxLength?: number, enum?: readonly string[] }
  | { type: 'boolean' }
  | { type: 'integer' }
  | { type: 'stringArray' }
  | { type: 'stringMap' }
  | { type: 'object', name: string, required?: readonly string[], props: Record<string, Spec> }

const str: Spec = { type: 'string' }
const bool: Spec = { type: 'boolean' }

export const FORWARD_REQUEST: Spec = {
  type: 'object',
  name: 'CheckoutForwardRequest',
  required: ['baseUrl', 'merchantAccount', 'request', 'shopperReference'],
  props: {
    amount: {
      type: 'object',
      name: 'Amount',
      required: ['currency', 'value'],
      props: { currency: { type: 'string', minLength: 3, maxLength: 3 }, value: { type: 'integer' } }
    },
    baseUrl: str,
    merchantAccount: str,
    merchantReference: str,
    options: {
      type: 'object',
      name: 'CheckoutForwardRequestOptions',
      props: {
        accountUpdate: bool,
        dryRun: bool,
        networkToken: { type: 'object', name: 'CheckoutNetworkTokenOption', props: { includeCryptogram: bool, useNetworkToken: bool } },
        networkTxReferencePaths: { type: 'stringArray' },
        tokenize: bool,
        transactionLinkIdPaths: { type: 'stringArray' }
      }
    },
    paymentMethod: {
      type: 'object',
      name: 'CheckoutForwardRequestCard',
      props: {
        cvc: str,
        encryptedCardNumber: str,
        encryptedExpiryMonth: str,
        encryptedExpiryYear: str,
        encryptedSecurityCode: str,
        expiryMonth: str,
        expiryYear: str,
        holderName: str,
        number: str,
        type: { type: 'string', enum: ['scheme'] }
      }
    },
    request: {
      type: 'object',
      name: 'CheckoutOutgoingForwardRequest',
      required: ['body', 'httpMethod'],
      props: {
        body: { type: 'string', maxLength: MAX_REQUEST_BODY },
        credentials: str,
        headers: { type: 'stringMap' },
        httpMethod: { type: 'string', enum: ['post', 'put', 'patch'] },
        urlSuffix: str
      }
    },
    // The API reference: "must be at least three characters".
    shopperReference: { type: 'string', minLength: 3 },
    storedPaymentMethodId: str
  }
}

/** The first problem found, as Adyen-style text, or undefined when the value fits the spec. */
export function check (value: unknown, spec: Spec, path: string): string | undefined {
  switch (spec.type) {
    case 'string':
      if (typeof value !== 'string') return `Field '${path}' must be a string`
      if (spec.minLength !== undefined && value.length < spec.minLength) {
        return `Field '${path}' must be at least ${spec.minLength} characters`
      }
      if (spec.maxLength !== undefined && value.length > spec.maxLength) {
        return `Field '${path}' must be at most ${spec.maxLength} characters`
      }
      if (spec.enum !== undefined && !spec.enum.includes(value)) return `Field '${path}' must be one of: ${spec.enum.join(', ')}`
      return undefined
    case 'boolean':
      return typeof value === 'boolean' ? undefined : `Field '${path}' must be a boolean`
    case 'integer':
      return Number.isInteger(value) ? undefined : `Field '${path}' must be an integer`
    case 'stringArray':
      return Array.isArray(value) && value.every(v => typeof v === 'string') ? undefined : `Field '${path}' must be an array of strings`
    case 'stringMap':
      return isObject(value) && Object.values(value).every(v => typeof v === 'string')
        ? undefined
        : `Field '${path}' must be a map of strings`
    case 'object': {
      if (!isObject(value)) return `Field '${path}' must be an object`
      const unknown = Object.keys(value).filter(k => !Object.hasOwn(spec.props, k))
      if (unknown.length > 0) return `Structure ${spec.name} contains the following unknown fields: [${unknown.join(', ')}]`
      for (const name of spec.required ?? []) {
        if (value[name] === undefined) return `Required field '${join(path, name)}' is not provided`
      }
      for (const [name, sub] of Object.entries(spec.props)) {
        if (value[name] === undefined) continue
        const problem = check(value[name], sub, join(path, name))
        if (problem !== undefined) return problem
      }
      return undefined
    }
  }
}

function join (path: string, name: string): string {
  return path === '' ? name : `${path}.${name}`
}

export interface ForwardRequest {
  baseUrl: string
  merchantAccount: string
  merchantReference?: string
  options?: { dryRun?: boolean }
  paymentMethod?: { number?: string, expiryMonth?: string, expiryYear?: string, holderName?: string, cvc?: string }
  request: {
    body: string
    credentials?: string
    headers?: Record<string, string>
    httpMethod: 'post' | 'put' | 'patch'
    urlSuffix?: string
  }
  shopperReference: string
  storedPaymentMethodId?: string
}
