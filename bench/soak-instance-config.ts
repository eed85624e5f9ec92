/** What bench/soak-cluster.ts tells each bench/soak-instance.ts process (through the environment). */
export const INSTANCE_ENV = 'SOAK_INSTANCE'

export interface InstanceConfig {
  port: number
  /** The load balancer's address: the only peer whose X-Forwarded-For is believed. */
  proxyAddress: string
  roktAddress: string
  pspUrl: string
  destinationUrl: string
  redisPort: number
  secret: string
  forwardTimeoutMs: number
}
