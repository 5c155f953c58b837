edms-name = Document management
edms-description = The incoming protocol, charging, handling and search of the municipality's documents.
edms-permission-register = Register and route incoming documents (protocol office)
edms-permission-work = Handle the department's documents and those charged to oneself
edms-permission-charge = Charge the department's documents to staff, forward and close them (heads)
edms-permission-read-all = Read every document of the municipality
edms-permission-confidential = Access to confidential documents
edms-setting-deadline_days = Days to handle a document, unless the head sets another date

edms-mine-title = My documents
edms-mine-title-description = What is charged to you, what waits in your department, what you charged and what is overdue.
edms-register-title = Register an incoming document
edms-register-title-description = Enter an incoming document with its files; it gets a protocol number and goes to a department.
edms-search-title = Search documents
edms-search-title-description = By words of the subject, the sender and the files' text, number, date, department.
edms-tabs = Document lists
edms-tab-mine = Charged to me
edms-tab-queue = In my department, not charged
edms-tab-charged-by-me = Charged by me
edms-tab-unrouted = At the protocol office, to route
edms-tab-overdue = Overdue
edms-tab-closed = Closed
edms-empty = No documents here.
edms-number = Protocol number
edms-subject = Subject
edms-correspondent = Sender
edms-correspondent-hint = The body or person who sent the document.
edms-correspondent-ref = The sender's reference (optional)
edms-correspondent-ref-hint = Their own number and date, e.g. "Ref. 4521/28-11-2026".
edms-where = Where it is
edms-where-now = Where it is now
edms-deadline = Deadline
edms-deadline-hint = If you set none, { $days } { $days ->
    [one] day
   *[other] days
} from today.
edms-overdue = overdue
edms-confidential = Confidential
edms-urgent = Urgent
edms-status = Status
edms-status-registered = At the protocol office
edms-status-routed = In the department
edms-status-charged = Charged
edms-status-closed = Closed
edms-for = for { $time }
edms-stayed = stayed { $time }
edms-days = { $n } { $n ->
    [one] day
   *[other] days
}
edms-hours = { $n } { $n ->
    [one] hour
   *[other] hours
}
edms-minutes = { $n } { $n ->
    [one] minute
   *[other] minutes
}

edms-register-intro = Attach the scanned document or the message's files and fill in its details. Registering gives it the next number of the protocol book.
edms-files = Files
edms-files-hint = PDF, JPEG or PNG (and DOCX/ODT where the municipality accepts them); one or more. The text of PDFs and DOCX/ODT becomes searchable.
edms-received-on = Date received
edms-received-on-hint = Today if left empty. For example 27 11 2026
edms-kind = Type of document
edms-channel = Received by
edms-channel-hand = In person
edms-channel-post = Post
edms-channel-email = E-mail
edms-channel-exchange = Another body's system (ΙΡΙΔΑ)
edms-attachments = Attachments (sheets)
edms-attachments-hint = The number of paper attachments; 0 if none.
edms-flags = Flags
edms-flag-urgent = Urgent
edms-flag-personal_data = Contains personal data
edms-flag-confidential = Confidential (only those with clearance see it)
edms-route-to = Route to a department
edms-route-to-hint = The department that will handle it; you may route it later.
edms-route-later = Later
edms-register-submit = Register and give a number

edms-record-title = Document { $number }
edms-done-registered = Registered with protocol number { $number }
edms-done-routed = Routed
edms-done-charged = Charged
edms-done-noted = The note is recorded
edms-done-returned = Given back to the department
edms-done-closed = Closed
edms-done-file-added = The file was added
edms-receipt-link = Receipt to print
edms-instructions = Instructions
edms-outcome = Outcome
edms-outcome-hint = What was done, e.g. "Answered with 5123/2026" or "Filed".
edms-direction-incoming = incoming
edms-closed-at = Closed on
edms-no-files = No files.
edms-add-file = Add a file (e.g. a draft reply)
edms-add-file-submit = Add the file
edms-actions = Actions
edms-charge-title = Charge to a member of staff
edms-charge-to = Member of staff
edms-choose = Choose
edms-charge-submit = Charge
edms-note = Note
edms-note-submit = Record the note
edms-close-submit = Close
edms-return-note = Why it goes back
edms-return-submit = Give back to the department
edms-route-note = Routing note (optional)
edms-route-submit = Route
edms-history = Its path
edms-move-registered = Registered
edms-move-routed = Routed
edms-move-charged = Charged
edms-move-noted = Note
edms-move-returned = Given back
edms-move-closed = Closed
edms-move-file-added = File added

edms-receipt-title = Receipt of a document
edms-registered-at = Registered
edms-receipt-note = Ask about your document's progress with its protocol number.

edms-search-words = Words
edms-search-hint = Accents and capitals do not matter; each word also matches as a word's beginning ("κλαδ" finds "κλάδεμα").
edms-search-filters = Filters
edms-year = Year
edms-received-from = Received from
edms-received-to = Received until
edms-department = Department
edms-any = Any
edms-only-confidential = Confidential only
edms-results = Results

error-field-edms-in-the-future = The date cannot be after today
error-field-edms-in-the-past = The deadline cannot be before today
error-field-edms-file-required = Attach the document (its scan or its file)
error-field-edms-too-many-files = Up to { $detail } files in one registration
error-field-edms-no-clearance = You have no clearance for confidential documents
error-field-edms-person-no-clearance = This member of staff has no clearance for confidential documents
error-field-edms-already-there = The document is already in this department
error-conflict-edms-moved-meanwhile = The document moved meanwhile; see where it is now

edms-permission-approve = Approve outgoing documents in an approval chain (the last one signs)
edms-draft-title = Draft an outgoing document
edms-draft-title-description = A letter, decision or certificate that goes through its approval chain, is signed digitally, numbered and sent.
edms-draft-intro = Write the draft and say who approves it, in order. The last one signs it digitally; it then gets its (outgoing) protocol number and is sent.
edms-draft-caption = Draft
edms-template = Type
edms-template-letter = Letter
edms-template-decision = Decision
edms-template-certificate = Certificate
edms-recipient = To
edms-recipient-email = The recipient's e-mail (optional)
edms-recipient-email-hint = With it the document may be sent by e-mail; otherwise it goes by post.
edms-draft-body = Text
edms-draft-body-hint = An empty line separates paragraphs.
edms-chain = Approval chain
edms-chain-hint = For example the head of department, the director and the mayor. The last one signs and must be allowed to.
edms-approver = Approver { $n }
edms-nobody = Nobody
edms-may-sign = signs
edms-draft-submit = Save the draft
edms-draft-text = Text
edms-chain-pending = waiting
edms-chain-current = with them now
edms-chain-done = approved
edms-signs = signs
edms-verify-code = Verification code
edms-submit-draft = Send for approval
edms-edit-draft = Change the draft
edms-save-draft = Save the changes
edms-comment-optional = Comment (optional)
edms-approve = Approve
edms-approve-and-sign = Approve and sign digitally
edms-send-back-why = What must change
edms-send-back = Send back to the drafter
edms-dispatch = Send
edms-dispatch-email = By e-mail to { $to }
edms-dispatch-post = By post (marked as sent)
edms-dispatch-submit = Send
edms-direction-outgoing = outgoing
edms-not-yet-numbered = Given when it is signed
edms-drafter = Drafted by
edms-status-draft = Draft
edms-status-approval = Being approved
edms-status-numbered = Numbered, to sign
edms-status-signed = Signed, to send
edms-tab-drafts = My drafts
edms-tab-to-approve = To approve or sign
edms-move-drafted = Drafted
edms-move-edited = Draft changed
edms-move-submitted = Sent for approval
edms-move-sent-back = Sent back to the drafter
edms-move-approved = Approved
edms-move-signed = Signed digitally and numbered
edms-move-dispatched = Sent
edms-done-drafted = The draft is saved
edms-done-edited = The changes are saved
edms-done-submitted = Sent for approval
edms-done-sent-back = Sent back to the drafter
edms-done-approved = Approved and passed on
edms-done-signed = Signed with protocol number { $number }
edms-done-dispatched = Sent
error-field-edms-last-must-sign = The last in the chain signs: choose someone allowed to sign
error-field-edms-may-not-sign = You are not allowed to sign documents
error-conflict-edms-no-approvers = The draft has no approval chain
error-field-edms-department-no-clearance = Nobody in this department is cleared to charge a confidential document
error-conflict-edms-form-used = This form already registered another document; open a new registration form

## Retention, legal hold
edms-permission-hold = Place legal holds on documents (stops their disposal)
edms-retention-title = Retention
edms-retention-rule-destroy = Kept { $years ->
    [one] 1 year
   *[other] { $years } years
} after the year it was closed, then destroyed.
edms-retention-rule-archive = Kept { $years ->
    [one] 1 year
   *[other] { $years } years
} after the year it was closed, then transferred to the archive.
edms-retention-due = Disposal date: { $date }.
edms-retention-none = The document's type has no retention rule: it is kept.
edms-disposed-destroyed = Destroyed on { $date }, its retention having run out. Its number, type and dates remain.
edms-disposed-archived = Transferred to the archive on { $date }, its retention having run out.
edms-archive-download = Download the archive package (ZIP)
edms-hold-on = Under legal hold
edms-hold-why = Why it is held
edms-hold-lift-why = Why the hold is lifted
edms-hold-place = Place a legal hold
edms-hold-lift = Lift the hold
edms-done-held = The document is held: it will not be disposed of
edms-done-released = The hold was lifted
edms-move-held = Legal hold
edms-move-released = Hold lifted

## Exchange (ΙΡΙΔΑ, Diavgeia)
edms-exchange-title = Exchange
edms-exchange-irida-in-done = Received through ΙΡΙΔΑ from { $org } (message { $id })
edms-exchange-irida-out-queued = To be sent through ΙΡΙΔΑ to { $org }
edms-exchange-irida-out-requested = Handed to ΙΡΙΔΑ for { $org }; its receipt is awaited
edms-exchange-irida-out-done = Sent through ΙΡΙΔΑ to { $org } (ΙΡΙΔΑ number { $id })
edms-exchange-irida-out-failed = ΙΡΙΔΑ refused it
edms-exchange-diavgeia-queued = To be published on Diavgeia
edms-exchange-diavgeia-requested = Handed to Diavgeia; its ΑΔΑ is awaited
edms-exchange-diavgeia-done = Published on Diavgeia with ΑΔΑ { $id }
edms-exchange-diavgeia-failed = Diavgeia refused it
edms-publish-submit = Publish on Diavgeia
edms-done-publish = The decision will be published on Diavgeia
edms-dispatch-exchange = Through ΙΡΙΔΑ to another public body
edms-dispatch-organisation = The body's code in ΙΡΙΔΑ (for sending through ΙΡΙΔΑ)
edms-dispatch-organisation-hint = As ΙΡΙΔΑ gives it, e.g. 6011
edms-resend-submit = Send again through ΙΡΙΔΑ
edms-done-resend = It will be sent through ΙΡΙΔΑ again
edms-tab-held = Under legal hold
error-field-edms-approver-role = At this step the approver holds the role: { $detail }
error-field-edms-approver-extra = The municipality's approval chain for this kind of document has no further step

## Settings page
edms-settings-title = Document management settings
edms-settings-back = Staff area
edms-settings-saved = The settings were saved
edms-setting-deadline-days = Days a charge is due in when the head sets no date
edms-settings-kinds = Document types and retention
edms-settings-kinds-hint = For each type: how many years after the year it was closed a document is kept, and what happens then. Without years it is kept. To remove a type, empty its fields.
edms-settings-new-kind = New type
edms-setting-kind-id = Code (lower-case Latin letters, digits, dash)
edms-setting-kind-el = Name in Greek
edms-setting-kind-en = Name in English
edms-setting-kind-years = Years kept
edms-setting-kind-years-hint = 1 to 100; empty: kept
edms-setting-kind-disposal = Then
edms-disposal-destroy = Destroyed
edms-disposal-archive = Transferred to the archive
edms-settings-chains = Approval chain of outgoing documents
edms-settings-chains-hint = For each kind of outgoing document, the roles that approve it in order; the last signs. Without roles, the drafter chooses.
edms-settings-drafter-chooses = The drafter chooses
edms-settings-save = Save
edms-files-kept = The files you chose were kept; they are registered with any you add:
error-field-edms-chain-gap = The chain has no gaps: fill in the step before first
