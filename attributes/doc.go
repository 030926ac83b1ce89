// Package attributes holds what both Ward and the resource servers that trust
// it need to agree on: the typed attribute schema (string, integer, number,
// boolean, date; single or multi-valued), validation of attribute values, and
// the effective-attribute merge of a subject's groups.
//
// Later it also holds CEL policy evaluation and the resource-side Guard.
//
// It must import nothing from the server side (realm, oauth, console,
// storage): resource servers outside this repository import it.
package attributes
