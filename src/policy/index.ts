/** Policy of the daemon: who is calling, what they may sign, and what is fit to sign. */
export { authorize, isAdmin } from './authorize';
export type { Authorization, AuthorizationRequest } from './authorize';
export {
  CLIENT_TOKEN_PREFIX,
  ClientRegistry,
  clientEntryFromConfig,
  clientEntrySchema,
  hashToken,
  newClientToken,
  scopeSchema,
} from './clients';
export type { ClientEntry } from './clients';
export { checkPlainJson, checkSignRequest } from './guard';
export type { CheckedRequest, GuardContext, RoleKind, SigningPolicy } from './guard';
export {
  MAX_GUN_LENGTH,
  allTargetsMatch,
  anyGunMatches,
  checkGun,
  gunMatches,
  gunPatternProblem,
  gunProblem,
  isValidGun,
  matchingTargetPattern,
  roleAllowed,
  targetMatches,
  targetPatternProblem,
} from './patterns';
