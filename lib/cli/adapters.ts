import type { PspAdapter } from '../../types/index.ts'
import { adyen } from '../psp/adapters/adyen.ts'
import { braintree } from '../psp/adapters/braintree.ts'
import { checkoutCom } from '../psp/adapters/checkout-com.ts'
import { stripe } from '../psp/adapters/stripe.ts'

/** The adapters a config may describe as data: `{ "adapter": "stripe", "apiKey": … }`. */
const FACTORIES: Record<string, (options: any) => PspAdapter<any>> = { stripe, adyen, braintree, checkoutCom }

/** True for a PSP described as data rather than built by the config. */
export function isAdapterDescription (value: unknown): value is { adapter: string, [option: string]: any } {
  return typeof Object(value).adapter === 'string'
}

/** Builds the adapter a `{ adapter, ...options }` entry describes, with the factory's own checks. */
export function buildAdapter ({ adapter, ...options }: { adapter: string }): PspAdapter<any> {
  if (!Object.hasOwn(FACTORIES, adapter)) throw new Error(`unknown adapter "${adapter}" (one of ${Object.keys(FACTORIES).join(', ')})`)
  return FACTORIES[adapter](options)
}
