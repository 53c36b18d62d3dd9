import type { ApiKeyRecord, CompartmentRecord, GroupRecord, MembershipRecord, UserRecord } from '../store/identity-store.js';

/** Identity resources as OCI's Identity API (20160918) returns them: the oci-identity SDK's model files. */

export const compartmentWire = (c: CompartmentRecord) => ({
  id: c.id,
  // OCI gives the tenancy its own id as its compartmentId.
  compartmentId: c.parentId ?? c.id,
  name: c.name,
  description: c.description,
  timeCreated: c.timeCreated,
  lifecycleState: c.lifecycleState,
  isAccessible: true,
  freeformTags: c.freeformTags,
  definedTags: c.definedTags,
});

export const userWire = (u: UserRecord) => ({
  id: u.id,
  compartmentId: u.compartmentId,
  name: u.name,
  description: u.description,
  email: u.email ?? undefined,
  emailVerified: false,
  timeCreated: u.timeCreated,
  lifecycleState: u.lifecycleState,
  // OCI's inactiveStatus bit 2 (value 4): blocked.
  inactiveStatus: u.blocked ? 4 : undefined,
  freeformTags: u.freeformTags,
  definedTags: u.definedTags,
  capabilities: { canUseConsolePassword: false, canUseApiKeys: true, canUseAuthTokens: false, canUseSmtpCredentials: false, canUseCustomerSecretKeys: false, canUseOAuth2ClientCredentials: false, canUseDbCredentials: false },
  isMfaActivated: false,
});

export const groupWire = (g: GroupRecord) => ({
  id: g.id,
  compartmentId: g.compartmentId,
  name: g.name,
  description: g.description,
  timeCreated: g.timeCreated,
  lifecycleState: g.lifecycleState,
  freeformTags: g.freeformTags,
  definedTags: g.definedTags,
});

export const membershipWire = (m: MembershipRecord) => ({
  id: m.id,
  compartmentId: m.compartmentId,
  groupId: m.groupId,
  userId: m.userId,
  timeCreated: m.timeCreated,
  lifecycleState: m.lifecycleState,
});

export const apiKeyWire = (tenancyId: string) => (k: ApiKeyRecord) => ({
  keyId: `${tenancyId}/${k.userId}/${k.fingerprint}`,
  keyValue: k.keyValue,
  fingerprint: k.fingerprint,
  userId: k.userId,
  timeCreated: k.timeCreated,
  lifecycleState: k.lifecycleState,
});
