import { Type } from '@sinclair/typebox';
import { DefinedTags, FreeformTags } from './schemas.js';

/** Wire shapes of OCI Identity's policies and dynamic groups (node_modules/oci-identity/lib/model/*.d.ts). */

const Name = Type.String({ minLength: 1, maxLength: 100 });
const Description = Type.String({ maxLength: 400 });
const Statements = Type.Array(Type.String(), { maxItems: 50 });
const LifecycleState = Type.Union(['CREATING', 'ACTIVE', 'INACTIVE', 'DELETING', 'DELETED'].map((v) => Type.Literal(v)));

export const Policy = Type.Object(
  {
    id: Type.String(),
    compartmentId: Type.String(),
    name: Type.String(),
    statements: Type.Array(Type.String()),
    description: Type.String(),
    timeCreated: Type.String(),
    lifecycleState: LifecycleState,
    versionDate: Type.Union([Type.String(), Type.Null()]),
    freeformTags: FreeformTags,
    definedTags: DefinedTags,
  },
  { $id: 'Policy' },
);

export const CreatePolicyDetails = Type.Object(
  {
    compartmentId: Type.String({ maxLength: 255 }),
    name: Name,
    statements: Statements,
    description: Description,
    versionDate: Type.Optional(Type.Union([Type.String(), Type.Null()])),
    freeformTags: Type.Optional(FreeformTags),
    definedTags: Type.Optional(DefinedTags),
  },
  { $id: 'CreatePolicyDetails', additionalProperties: false },
);

export const UpdatePolicyDetails = Type.Object(
  {
    description: Type.Optional(Description),
    statements: Type.Optional(Statements),
    versionDate: Type.Optional(Type.Union([Type.String(), Type.Null()])),
    freeformTags: Type.Optional(FreeformTags),
    definedTags: Type.Optional(DefinedTags),
  },
  { $id: 'UpdatePolicyDetails', additionalProperties: false },
);

export const DynamicGroup = Type.Object(
  {
    id: Type.String(),
    compartmentId: Type.String(),
    name: Type.String(),
    description: Type.String(),
    matchingRule: Type.String(),
    timeCreated: Type.String(),
    lifecycleState: LifecycleState,
    freeformTags: FreeformTags,
    definedTags: DefinedTags,
  },
  { $id: 'DynamicGroup' },
);

export const CreateDynamicGroupDetails = Type.Object(
  {
    compartmentId: Type.String({ maxLength: 255 }),
    name: Name,
    matchingRule: Type.String({ minLength: 1 }),
    description: Description,
    freeformTags: Type.Optional(FreeformTags),
    definedTags: Type.Optional(DefinedTags),
  },
  { $id: 'CreateDynamicGroupDetails', additionalProperties: false },
);

export const UpdateDynamicGroupDetails = Type.Object(
  {
    description: Type.Optional(Description),
    matchingRule: Type.Optional(Type.String({ minLength: 1 })),
    freeformTags: Type.Optional(FreeformTags),
    definedTags: Type.Optional(DefinedTags),
  },
  { $id: 'UpdateDynamicGroupDetails', additionalProperties: false },
);

/** OCI Identity's list query: compartment required, exact name, TIMECREATED or NAME order. */
export const IdentityListQuery = Type.Object({
  compartmentId: Type.String(),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
  page: Type.Optional(Type.String()),
  name: Type.Optional(Type.String()),
  sortBy: Type.Optional(Type.Union([Type.Literal('TIMECREATED'), Type.Literal('NAME')])),
  sortOrder: Type.Optional(Type.Union([Type.Literal('ASC'), Type.Literal('DESC')])),
  lifecycleState: Type.Optional(LifecycleState),
});
