-- A large municipality's nursery applications for the harness
-- (PostgreSQL): copies of one application that a family filed through the
-- form and the committee checked (its case waiting for the results, its
-- open task, the family's account), `total` families in all. Each copy is
-- its own family: an account, an application with 1 to 5 stations in its
-- own order, an income of its own, a child in one of the two age groups (a
-- tenth are a sibling pair asking to be placed together), a case with its
-- history and a protocol number. The application window is then closed.
--
--   psql URL -v case=<the checked case> -v total=5000 -v today=YYYY-MM-DD -f seed-nurseries.sql
\set ON_ERROR_STOP on
BEGIN;
CREATE TEMP TABLE tpl ON COMMIT DROP AS
SELECT a.tenant_id, a.id AS app, a.year_id, a.applicant, a.case_id,
       (y.starts_on - interval '14 months')::date::text AS infant_birth,
       (y.starts_on - interval '30 months')::date::text AS preschool_birth
FROM nursery_applications a
JOIN nursery_years y ON y.tenant_id = a.tenant_id AND y.id = a.year_id
WHERE a.case_id = :'case';

CREATE TEMP TABLE fam ON COMMIT DROP AS
SELECT g,
       gen_random_uuid() AS account,
       gen_random_uuid() AS app,
       gen_random_uuid() AS case_id,
       gen_random_uuid() AS task,
       (SELECT jsonb_agg(to_jsonb(s.id::text) ORDER BY md5(s.id::text || g))
          FROM (SELECT id FROM nursery_stations WHERE tenant_id = (SELECT tenant_id FROM tpl)
                ORDER BY md5(id::text || g) LIMIT 1 + g % 5) s) AS prefs,
       CASE WHEN g % 10 = 0 THEN 2 ELSE 1 END AS kids
FROM generate_series(2, :total) AS g;

INSERT INTO accounts (tenant_id, id, issuer, subject, tax_id, given_name, family_name, email,
                      phone, assurance, created_at, last_login_at, signed_out_at)
SELECT a.tenant_id, f.account, a.issuer, 'bench-family-' || f.g, lpad((300000000 + f.g)::text, 9, '0'),
       'Γονέας', 'Οικογένεια ' || f.g, 'family' || f.g || '@example.gr', a.phone, a.assurance,
       a.created_at, a.last_login_at, NULL
FROM fam f CROSS JOIN tpl t
JOIN accounts a ON a.tenant_id = t.tenant_id AND a.id = t.applicant;

INSERT INTO cases (tenant_id, id, process, snapshot_id, module, applicant, applicant_name, filed_by,
                   subject, data, status, step, result, reasoning, protocol_book, protocol_year,
                   protocol_number, submitted_at, due_at, waiting_since, waiting_until,
                   paused_seconds, closed_at, updated_at)
SELECT c.tenant_id, f.case_id, c.process, c.snapshot_id, c.module, f.account, 'Οικογένεια ' || f.g,
       NULL, c.subject, c.data, c.status, c.step, c.result, c.reasoning, c.protocol_book,
       c.protocol_year, 100000 + f.g, c.submitted_at, c.due_at, c.waiting_since, c.waiting_until,
       c.paused_seconds, c.closed_at, c.updated_at
FROM fam f CROSS JOIN tpl t
JOIN cases c ON c.tenant_id = t.tenant_id AND c.id = t.case_id;

INSERT INTO case_events (tenant_id, case_id, seq, kind, step, at, actor, actor_name, on_behalf_of,
                         outcome, comment, public, payload)
SELECT e.tenant_id, f.case_id, e.seq, e.kind, e.step, e.at, e.actor, e.actor_name, e.on_behalf_of,
       e.outcome, e.comment, e.public, e.payload
FROM fam f CROSS JOIN tpl t
JOIN case_events e ON e.tenant_id = t.tenant_id AND e.case_id = t.case_id;

INSERT INTO tasks (tenant_id, id, case_id, step, status, assignee, assignee_name, created_at,
                   due_at, claimed_at, completed_at, outcome, escalated)
SELECT k.tenant_id, f.task, f.case_id, k.step, k.status, k.assignee, k.assignee_name, k.created_at,
       k.due_at, k.claimed_at, k.completed_at, k.outcome, k.escalated
FROM fam f CROSS JOIN tpl t
JOIN tasks k ON k.tenant_id = t.tenant_id AND k.case_id = t.case_id AND k.status = 'open';

INSERT INTO task_candidates (tenant_id, task_id, kind, name)
SELECT c.tenant_id, f.task, c.kind, c.name
FROM fam f CROSS JOIN tpl t
JOIN tasks k ON k.tenant_id = t.tenant_id AND k.case_id = t.case_id AND k.status = 'open'
JOIN task_candidates c ON c.tenant_id = k.tenant_id AND c.task_id = k.id;

INSERT INTO nursery_applications (tenant_id, id, year_id, applicant, status, case_id, protocol, form,
                                  application, decisions, points, created_at, updated_at,
                                  submitted_at)
SELECT a.tenant_id, f.app, a.year_id, f.account, a.status, f.case_id,
       (100000 + f.g) || '/' || split_part(a.protocol, '/', 2),
       a.form || jsonb_build_object('preferences', f.prefs, 'income', (8000 + f.g * 37 % 40000)::text),
       a.application || jsonb_build_object(
         'preferences', f.prefs,
         'income_euros', 8000 + f.g * 37 % 40000,
         'together', f.kids = 2,
         'children', CASE
           WHEN f.kids = 2 THEN jsonb_build_array(
             jsonb_build_object('name', 'Παιδί Α ' || f.g, 'birth', t.infant_birth, 'group', 'infants', 'reenrolment', false),
             jsonb_build_object('name', 'Παιδί Β ' || f.g, 'birth', t.preschool_birth, 'group', 'preschool', 'reenrolment', false))
           WHEN f.g % 2 = 0 THEN jsonb_build_array(
             jsonb_build_object('name', 'Παιδί ' || f.g, 'birth', t.infant_birth, 'group', 'infants', 'reenrolment', f.g % 50 = 1))
           ELSE jsonb_build_array(
             jsonb_build_object('name', 'Παιδί ' || f.g, 'birth', t.preschool_birth, 'group', 'preschool', 'reenrolment', f.g % 50 = 1))
           END),
       a.decisions, a.points, a.created_at, a.updated_at, a.submitted_at
FROM fam f CROSS JOIN tpl t
JOIN nursery_applications a ON a.tenant_id = t.tenant_id AND a.id = t.app;

-- The window closes: the committee may run the placement.
UPDATE nursery_years SET opens_on = :'today'::date - 30, closes_on = :'today'::date - 1
WHERE (tenant_id, id) = (SELECT tenant_id, year_id FROM tpl);
COMMIT;
VACUUM ANALYZE;
