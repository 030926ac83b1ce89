-- 0014_ip_allow_lists: the IP allow lists of CONTRACT §7, a realm-wide one
-- and one per group. Each is a JSON array of canonical CIDR prefixes
-- (realm.CheckIPAllowList); the empty array, which every existing realm
-- and group gets, restricts nothing. They sit on the rows themselves so
-- that the grants' one query per subject reads them with the rest.
ALTER TABLE realms ADD COLUMN ip_allow_list TEXT NOT NULL DEFAULT '[]';
ALTER TABLE groups ADD COLUMN ip_allow_list TEXT NOT NULL DEFAULT '[]';
