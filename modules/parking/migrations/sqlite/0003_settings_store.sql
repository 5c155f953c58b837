-- The settings move to the platform's module settings store (one place
-- for every module's settings, audited, with a generated page); the
-- municipalities' saved values go with them.
INSERT INTO module_settings (tenant_id, module, overrides, updated_at, updated_by)
SELECT tenant_id, 'parking',
       json_object('validity_years', validity_years, 'expiry_notice_days', expiry_notice_days),
       updated_at, updated_by
FROM parking_settings;
DROP TABLE parking_settings;
