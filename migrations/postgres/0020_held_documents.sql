-- A file held by a module's own record instead of a case (a document
-- registered in the document management module): the module's table,
-- e.g. 'edms_records'. Such a file is never swept as an unsent form's.
ALTER TABLE documents ADD COLUMN held_by TEXT;
