-- Realistic volume for the harness (PostgreSQL): `total` cases spread
-- over every municipality, each with its history (2 events), 2 documents'
-- rows and the message that announced its number; citizens with 20 cases
-- each; the signed-in bench citizen of Alimos with 50; and a queue of
-- open tasks for Alimos' technical service (10,000 of 1,000,000).
--
--   psql URL -v alimos=<tenant id> -v citizen=<account id> -v total=1000000 -f seed-postgres.sql
--
-- (The test of query plans runs it with a smaller total.)
-- Rows go in with plain INSERT … SELECT; the cases copy the parking
-- process's snapshot of Alimos (pages of other municipalities' cases are
-- not measured). Seeded cases are numbered in the 2020 protocol book so
-- they never meet the numbers the submission run takes.
\set ON_ERROR_STOP on
BEGIN;
CREATE TEMP TABLE seed_cases ON COMMIT DROP AS
SELECT t.id AS tenant_id,
       md5(t.id::text || ':case:' || g)::uuid AS id,
       md5(t.id::text || ':person:' || (g / 20))::uuid AS applicant,
       g AS n,
       now() - make_interval(days => (g % 700)::int) AS at
FROM tenants t
-- Alimos is the large municipality (a twentieth of all); the others share
-- the rest.
CROSS JOIN LATERAL generate_series(1, CASE WHEN t.id = :'alimos'::uuid THEN :total / 20
    ELSE (:total - :total / 20) / GREATEST((SELECT COUNT(*) FROM tenants) - 1, 1) END) AS g;

-- The bench citizen's own 50.
INSERT INTO seed_cases
SELECT :'alimos'::uuid, md5('bench-citizen:' || g)::uuid, :'citizen'::uuid, 900000 + g,
       now() - make_interval(days => g::int)
FROM generate_series(1, 50) AS g;

INSERT INTO cases (tenant_id, id, process, snapshot_id, module, applicant, applicant_name,
                   subject, data, status, step, protocol_book, protocol_year, protocol_number,
                   submitted_at, due_at, paused_seconds, updated_at)
SELECT s.tenant_id, s.id, 'parking.permit',
       (SELECT id FROM workflow_snapshots w WHERE w.tenant_id = :'alimos'::uuid
          AND w.process = 'parking.permit' ORDER BY created_at LIMIT 1),
       'parking', s.applicant, 'Πολίτης ' || s.n,
       'Αριστοτέλους ' || (s.n % 200) || ' — ΙΚΥ-' || lpad((s.n % 10000)::text, 4, '0'),
       jsonb_build_object('full_name', 'Πολίτης ' || s.n, 'plate', 'ΙΚΥ-1234', 'delivery', 'pickup'),
       CASE WHEN s.n % 5 = 0 THEN 'active' ELSE 'closed' END,
       CASE WHEN s.n % 5 = 0 THEN 'check' ELSE 'end' END,
       'general', 2020, s.n, s.at, s.at + interval '30 days', 0, s.at
FROM seed_cases s;

INSERT INTO case_events (tenant_id, case_id, seq, kind, step, at, public, payload)
SELECT s.tenant_id, s.id, e.seq, e.kind, 'check', s.at, true, '{}'::jsonb
FROM seed_cases s CROSS JOIN (VALUES (1, 'submitted'), (2, 'registered')) AS e(seq, kind);

INSERT INTO documents (tenant_id, id, case_id, kind, original_name, content_type, size, sha256,
                       object_key, personal_data, uploaded_by, uploaded_at)
SELECT s.tenant_id, md5(s.id::text || d.kind)::uuid, s.id, d.kind, d.kind || '.pdf',
       'application/pdf', 20000, repeat('0', 64), 'seed/' || s.id || '/' || d.kind, true,
       s.applicant, s.at
FROM seed_cases s
CROSS JOIN (VALUES ('disability-certificate'), ('vehicle-registration')) AS d(kind);

-- Messages past the retention period (365 days) were purged long ago, as
-- in a settled deployment: their bodies are gone, the record stays.
INSERT INTO notifications (tenant_id, id, idempotency_key, case_id, account_id, event, channel,
                           recipient, locale, subject, body_text, status, attempts,
                           next_attempt_at, created_at, sent_at, purged_at)
SELECT s.tenant_id, md5(s.id::text || ':registered')::uuid, 'seed:' || s.id, s.id, s.applicant,
       'registered', 'email', 'person' || s.n || '@example.gr', 'el',
       CASE WHEN old THEN NULL ELSE 'Αρ. πρωτοκόλλου' END,
       CASE WHEN old THEN NULL ELSE 'Η αίτησή σας πήρε αριθμό.' END, 'sent', 1, s.at, s.at, s.at,
       CASE WHEN old THEN s.at + interval '366 days' END
FROM seed_cases s, LATERAL (SELECT s.at < now() - interval '365 days' AS old) o;

-- Alimos' technical service: 10,000 open tasks waiting to be claimed.
CREATE TEMP TABLE seed_tasks ON COMMIT DROP AS
SELECT md5('task:' || s.id)::uuid AS id, s.id AS case_id, s.at
FROM seed_cases s
WHERE s.tenant_id = :'alimos'::uuid AND s.n % 5 = 0 AND s.n < 900000;
INSERT INTO tasks (tenant_id, id, case_id, step, status, created_at, due_at, escalated)
SELECT :'alimos'::uuid, id, case_id, 'check', 'open', at, at + interval '10 days', false
FROM seed_tasks;
INSERT INTO task_candidates (tenant_id, task_id, kind, name)
SELECT :'alimos'::uuid, id, 'role', 'technical-employee' FROM seed_tasks;
-- Every closed case had its task, done: the table holds all
-- municipalities' history, of which the open queue is a small part.
INSERT INTO tasks (tenant_id, id, case_id, step, status, assignee_name, created_at, due_at,
                   completed_at, outcome, escalated)
SELECT s.tenant_id, md5('done:' || s.id)::uuid, s.id, 'check', 'done', 'Υπάλληλος', s.at,
       s.at + interval '10 days', s.at + interval '2 days', 'complete', false
FROM seed_cases s
WHERE s.n % 5 <> 0;
INSERT INTO task_candidates (tenant_id, task_id, kind, name)
SELECT s.tenant_id, md5('done:' || s.id)::uuid, 'role', 'technical-employee'
FROM seed_cases s
WHERE s.n % 5 <> 0;
COMMIT;
ANALYZE;
