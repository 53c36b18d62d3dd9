import { Type } from '@sinclair/typebox';

/** Request schemas shared by the Identity family's routes (OCI Identity 20160918). */

export const IdentityTags = {
  freeformTags: Type.Optional(Type.Record(Type.String(), Type.String())),
  definedTags: Type.Optional(Type.Record(Type.String(), Type.Record(Type.String(), Type.Unknown()))),
};

export const IdentityListQuery = Type.Object({
  compartmentId: Type.Optional(Type.String()),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
  page: Type.Optional(Type.String()),
  name: Type.Optional(Type.String()),
  sortBy: Type.Optional(Type.String()),
  sortOrder: Type.Optional(Type.String()),
  lifecycleState: Type.Optional(Type.String()),
});
