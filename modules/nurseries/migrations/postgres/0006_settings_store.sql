-- The settings move to the platform's module settings store (one place
-- for every module's settings, audited); the municipalities' saved
-- settings go with them.
INSERT INTO module_settings (tenant_id, module, overrides, updated_at, updated_by)
SELECT tenant_id, 'nurseries', config, updated_at, updated_by
FROM nursery_settings;
DROP TABLE nursery_settings;
