-- 200,000 registered documents of one municipality for the search
-- benchmark (bench/edms-search.sh): Greek subjects, senders and a page of
-- text each, folded as the module stores them (lower case, no accents,
-- final sigma as sigma, letters and digits only); across the years, the
-- departments and the states; a fiftieth confidential; two movements each.
-- psql -v tenant=<uuid> -v registrar=<uuid> -v total=200000 -f seed-edms.sql
\set ON_ERROR_STOP on
BEGIN;
CREATE TEMP TABLE words (n INT, w TEXT);
INSERT INTO words
SELECT ordinality - 1, w FROM unnest(string_to_array(
  'αιτηση βεβαιωση αποφαση εγγραφο δημοσ δημαρχοσ υπηρεσια τεχνικη καθαριοτητα οδοσ πλατεια '
  'δεντρα κλαδεμα αδεια σταθμευση παραπονο αναφορα συλλογοσ κατοικων καλαμακιου αλιμου '
  'συμβουλιο συνεδριαση προυπολογισμοσ δαπανη εγκριση εργασια συντηρηση φωτισμοσ πεζοδρομιο '
  'αποχετευση υδρευση ασφαλτοστρωση σχολειο παιδικοσ σταθμοσ εγγραφη δημοτολογιο ληξιαρχειο '
  'πιστοποιητικο οικογενειακησ καταστασησ κατοικιασ προγραμμα σχεδιο μελετη διαγωνισμοσ '
  'προμηθεια τιμολογιο πληρωμη ενταλμα λογιστηριο ταμειο εσοδα τελη κοινοχρηστου χωρου '
  'περιπτερο καταστημα υγειονομικου ενδιαφεροντοσ ελεγχοσ αυτοψια πρωτοκολλο διαβιβαση '
  'εγκυκλιοσ υπουργειο εσωτερικων περιφερεια αττικησ αποκεντρωμενη διοικηση νομικη '
  'γνωμοδοτηση δικογραφο αγωγη προσφυγη ενσταση ακροαση προθεσμια ειδοποιηση κοινοποιηση '
  'ποσειδωνοσ θησεωσ αριστοτελουσ ιωνιασ αμφιτριτησ καλλιθεασ κυπρου ελευθεριασ δημοκρατιασ '
  'ανακυκλωση ογκωδη απορριμματα καδοι συνεργειο δρομολογιο πρασινο αλσυλλιο παιδικη χαρα '
  'ισοτητα κοινωνικη πολιτικη βοηθεια στο σπιτι καπη αθλητισμοσ γηπεδο κολυμβητηριο πολιτισμοσ '
  'εκδηλωση φεστιβαλ βιβλιοθηκη δανεισμοσ εθελοντεσ πολιτικη προστασια σεισμοσ πυρκαγια '
  'πλημμυρα αντιπλημμυρικα εργα κυκλοφοριακη ρυθμιση σηματοδοτηση διαβαση πεζων ραμπα '
  'αναπηρια προσβασιμοτητα ηλεκτρονικη υπογραφη ψηφιακη διαυγεια δημοσιευση ιριδα', ' ')) WITH ORDINALITY AS t(w, ordinality);

CREATE TEMP TABLE v AS SELECT COUNT(*)::INT AS size FROM words;

-- n random words of the vocabulary, joined.
CREATE FUNCTION pg_temp.phrase(n INT, seed BIGINT) RETURNS TEXT LANGUAGE SQL AS $$
  SELECT string_agg(w.w, ' ' ORDER BY i)
  FROM generate_series(1, n) AS i
  JOIN words w ON w.n = ((seed * 7919 + i * 104729 + (seed % 97) * i * i) % (SELECT size FROM v))
$$;

INSERT INTO edms_records (
  tenant_id, id, direction, protocol_id, protocol_year, protocol_number, kind,
  subject, correspondent, correspondent_ref, received_on, channel, attachments,
  confidential, personal_data, urgent, status, department, holder, holder_name,
  instructions, deadline, since, registered_by, registered_at, closed_at, outcome,
  search_text, submission)
SELECT :'tenant', gen_random_uuid(), 'incoming', gen_random_uuid(),
  2020 + (g % 7), g, (ARRAY['letter','request','complaint','circular','invoice','court','other'])[1 + g % 7],
  initcap(pg_temp.phrase(6, g)), 'Συλλογος ' || pg_temp.phrase(2, g + 1), 'Α.Π. ' || (g % 9000),
  DATE '2020-01-01' + (g % 2500), (ARRAY['hand','post','email','exchange'])[1 + g % 4], g % 3,
  g % 50 = 0, g % 5 = 0, g % 20 = 0,
  (ARRAY['registered','routed','charged','closed','closed','closed'])[1 + g % 6],
  CASE WHEN g % 6 = 0 THEN NULL ELSE (ARRAY['administration','technical','cleaning'])[1 + g % 3] END,
  CASE WHEN g % 6 = 2 THEN 'taxid:100000052' END, CASE WHEN g % 6 = 2 THEN 'Κατερίνα Δημητρίου' END,
  '', CASE WHEN g % 6 = 2 THEN DATE '2020-02-01' + (g % 2500) END,
  TIMESTAMPTZ '2020-01-01 08:00+02' + (g % 2500) * INTERVAL '1 day',
  :'registrar', TIMESTAMPTZ '2020-01-01 08:00+02' + (g % 2500) * INTERVAL '1 day' + (g % 480) * INTERVAL '1 minute',
  NULL, '',
  g || ' ' || pg_temp.phrase(6, g) || ' συλλογοσ ' || pg_temp.phrase(2, g + 1) || ' α π ' || (g % 9000) || ' ' || pg_temp.phrase(120, g * 31),
  gen_random_uuid()
FROM generate_series(1, :total) AS g;

INSERT INTO edms_movements (tenant_id, id, record_id, at, kind, by_account, by_name, department, to_subject, to_name, note, deadline)
SELECT r.tenant_id, gen_random_uuid(), r.id, r.registered_at, k.kind, :'registrar', 'Ελένη Γεωργίου', r.department, NULL, NULL, '', NULL
FROM edms_records r CROSS JOIN (VALUES ('registered'), ('routed')) AS k(kind)
WHERE r.tenant_id = :'tenant';
COMMIT;
