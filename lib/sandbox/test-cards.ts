import type { BillingAddress } from '../../types/index.ts'

/** A card as a PSP's vault holds it. Test numbers only: these are the PSPs' published test cards. */
export interface SandboxCard {
  number: string
  expMonth: string
  expYear: string
  holderName: string
  /** Most vaults do not keep the CVC after the first use. */
  cvc?: string
  billing: BillingAddress
}

const billing: BillingAddress = {
  line1: '510 Townsend St',
  city: 'San Francisco',
  state: 'CA',
  postalCode: '94103',
  country: 'US'
}

/**
 * Published test card numbers (Visa 4242…, Mastercard 5555…, Amex 3782…, Discover 6011…). Most
 * carry a two-digit month and a four-digit year; `shortExpiry` (a one-digit month, as Stripe and
 * Checkout.com hold months as integers) and `twoDigitYear` (Braintree keeps "2- or 4-digit" years)
 * are the other forms PSPs document, and `quotedName` has a quote and a backslash in its holder
 * name and billing line, for the PSPs that substitute text into a JSON body.
 */
export const TEST_CARDS = {
  visa: { number: '4242424242424242', expMonth: '12', expYear: '2034', holderName: 'Jenny Rosen', billing },
  mastercard: {
    number: '5555555555554444', expMonth: '03', expYear: '2030', holderName: 'John Smith', billing: { ...billing, line2: 'Suite 4' }
  },
  amex: { number: '378282246310005', expMonth: '08', expYear: '2031', holderName: 'Ana Silva', billing },
  visaWithCvc: { number: '4000056655665556', expMonth: '11', expYear: '2032', holderName: 'Kai Tanaka', cvc: '123', billing },
  shortExpiry: { number: '6011111111111117', expMonth: '3', expYear: '2030', holderName: 'Ola Nordmann', billing },
  twoDigitYear: { number: '5105105105105100', expMonth: '07', expYear: '29', holderName: 'Li Wei', billing },
  quotedName: {
    number: '4000002500003155', expMonth: '06', expYear: '2033', holderName: 'Sam O"Brien \\ Jr', billing: { ...billing, line1: '1 "Quoted" St \\ Apt {2}' }
  }
} as const satisfies Record<string, SandboxCard>
