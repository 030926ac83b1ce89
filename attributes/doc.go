// Package attributes holds what both Ward and the resource servers that trust
// it need to agree on: the typed attribute schema (string, integer, number,
// boolean, date; single or multi-valued), validation of attribute values, and
// the effective-attribute merge of a subject's groups.
//
// It also holds the CEL policy language (CompilePolicy, Evaluate): Ward
// compiles policies with it when admins write them, and resource servers
// evaluate them with it, so both agree on what a condition means. The
// resource-side Guard comes later.
//
// It must import nothing from the server side (realm, oauth, console,
// storage): resource servers outside this repository import it.
package attributes
