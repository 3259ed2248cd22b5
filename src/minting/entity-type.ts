import { EntityType } from '../gen/chittyid/v1/chittyid.js';

/** The one-letter entity codes of the ID format (SPEC §1). */
export type EntityLetter = 'P' | 'L' | 'T' | 'E' | 'A';

const LETTER_BY_TYPE: ReadonlyMap<EntityType, EntityLetter> = new Map([
  [EntityType.ENTITY_TYPE_PERSON, 'P'],
  [EntityType.ENTITY_TYPE_LOCATION, 'L'],
  [EntityType.ENTITY_TYPE_THING, 'T'],
  [EntityType.ENTITY_TYPE_EVENT, 'E'],
  [EntityType.ENTITY_TYPE_AUTHORITY, 'A'],
]);

const TYPE_BY_LETTER: ReadonlyMap<string, EntityType> = new Map([...LETTER_BY_TYPE].map(([t, l]) => [l, t]));

/** The letter of a wire entity type; undefined for UNSPECIFIED and unknown values (never defaulted). */
export const letterOf = (type: EntityType): EntityLetter | undefined => LETTER_BY_TYPE.get(type);

/** The wire entity type of a letter, or UNSPECIFIED when the letter is not one of P L T E A. */
export const entityTypeOf = (letter: string): EntityType => TYPE_BY_LETTER.get(letter) ?? EntityType.ENTITY_TYPE_UNSPECIFIED;

export const isEntityLetter = (letter: string): letter is EntityLetter => TYPE_BY_LETTER.has(letter);
