edms-name = Ηλεκτρονική διακίνηση εγγράφων
edms-description = Πρωτόκολλο εισερχομένων, χρέωση, διεκπεραίωση και αναζήτηση εγγράφων του δήμου.
edms-permission-register = Πρωτοκόλληση και διαβίβαση εισερχομένων εγγράφων (γραφείο πρωτοκόλλου)
edms-permission-work = Διεκπεραίωση εγγράφων της υπηρεσίας και όσων χρεώνονται στον ίδιο
edms-permission-charge = Χρέωση εγγράφων της υπηρεσίας σε υπαλλήλους, διαβίβαση και αρχειοθέτηση (προϊστάμενοι)
edms-permission-read-all = Ανάγνωση όλων των εγγράφων του δήμου
edms-permission-confidential = Πρόσβαση σε εμπιστευτικά έγγραφα
edms-setting-deadline_days = Προθεσμία διεκπεραίωσης σε ημέρες, όταν ο προϊστάμενος δεν ορίζει άλλη

edms-mine-title = Τα έγγραφά μου
edms-mine-title-description = Όσα σας έχουν χρεωθεί, όσα περιμένουν στην υπηρεσία σας, όσα χρεώσατε και όσα έληξαν.
edms-register-title = Πρωτοκόλληση εισερχομένου
edms-register-title-description = Καταχώριση εισερχομένου εγγράφου με τα αρχεία του· παίρνει αριθμό πρωτοκόλλου και διαβιβάζεται σε υπηρεσία.
edms-search-title = Αναζήτηση εγγράφων
edms-search-title-description = Με λέξεις από το θέμα, τον αποστολέα και το κείμενο των αρχείων, αριθμό, ημερομηνία, υπηρεσία.
edms-tabs = Κατηγορίες εγγράφων
edms-tab-mine = Χρεωμένα σε μένα
edms-tab-queue = Στην υπηρεσία μου, αχρέωτα
edms-tab-charged-by-me = Χρεώθηκαν από μένα
edms-tab-unrouted = Στο πρωτόκολλο, προς διαβίβαση
edms-tab-overdue = Εκπρόθεσμα
edms-tab-closed = Διεκπεραιωμένα
edms-empty = Δεν υπάρχουν έγγραφα εδώ.
edms-number = Αριθμός πρωτοκόλλου
edms-subject = Θέμα
edms-correspondent = Αποστολέας
edms-correspondent-hint = Φορέας ή πρόσωπο που έστειλε το έγγραφο.
edms-correspondent-ref = Στοιχεία του αποστολέα (προαιρετικά)
edms-correspondent-ref-hint = Ο δικός του αριθμός και η ημερομηνία του εγγράφου, π.χ. «Α.Π. 4521/28-11-2026».
edms-where = Πού βρίσκεται
edms-where-now = Πού βρίσκεται τώρα
edms-deadline = Προθεσμία
edms-deadline-hint = Αν δεν ορίσετε, { $days } { $days ->
    [one] ημέρα
   *[other] ημέρες
} από σήμερα.
edms-overdue = εκπρόθεσμο
edms-confidential = Εμπιστευτικό
edms-urgent = Επείγον
edms-status = Κατάσταση
edms-status-registered = Στο πρωτόκολλο
edms-status-routed = Στην υπηρεσία
edms-status-charged = Χρεωμένο
edms-status-closed = Διεκπεραιώθηκε
edms-for = εδώ και { $time }
edms-stayed = έμεινε { $time }
edms-days = { $n } { $n ->
    [one] ημέρα
   *[other] ημέρες
}
edms-hours = { $n } { $n ->
    [one] ώρα
   *[other] ώρες
}
edms-minutes = { $n } { $n ->
    [one] λεπτό
   *[other] λεπτά
}

edms-register-intro = Επισυνάψτε το σαρωμένο έγγραφο ή τα αρχεία του μηνύματος και συμπληρώστε τα στοιχεία του. Με την καταχώριση παίρνει τον επόμενο αριθμό του βιβλίου πρωτοκόλλου.
edms-files = Αρχεία
edms-files-hint = PDF, JPEG ή PNG (και DOCX/ODT όπου το δέχεται ο δήμος)· ένα ή περισσότερα. Το κείμενο των PDF και DOCX/ODT γίνεται αναζητήσιμο.
edms-received-on = Ημερομηνία παραλαβής
edms-received-on-hint = Αν μείνει κενή, η σημερινή. Για παράδειγμα 27 11 2026
edms-kind = Είδος εγγράφου
edms-channel = Τρόπος παραλαβής
edms-channel-hand = Αυτοπροσώπως
edms-channel-post = Ταχυδρομικά
edms-channel-email = Ηλεκτρονικό ταχυδρομείο
edms-channel-exchange = Από σύστημα άλλου φορέα (ΙΡΙΔΑ)
edms-attachments = Συνημμένα (φύλλα)
edms-attachments-hint = Ο αριθμός των συνημμένων σε χαρτί· 0 αν δεν υπάρχουν.
edms-flags = Χαρακτηρισμοί
edms-flag-urgent = Επείγον
edms-flag-personal_data = Περιέχει προσωπικά δεδομένα
edms-flag-confidential = Εμπιστευτικό (το βλέπουν μόνο όσοι έχουν διαβάθμιση)
edms-route-to = Διαβίβαση σε υπηρεσία
edms-route-to-hint = Η υπηρεσία που θα το χειριστεί· μπορείτε να το διαβιβάσετε και αργότερα.
edms-route-later = Αργότερα
edms-register-submit = Καταχώριση και απόδοση αριθμού

edms-record-title = Έγγραφο { $number }
edms-done-registered = Καταχωρίστηκε με αριθμό πρωτοκόλλου { $number }
edms-done-routed = Διαβιβάστηκε
edms-done-charged = Χρεώθηκε
edms-done-noted = Η σημείωση καταγράφηκε
edms-done-returned = Επιστράφηκε στην υπηρεσία
edms-done-closed = Διεκπεραιώθηκε
edms-done-file-added = Το αρχείο προστέθηκε
edms-receipt-link = Απόδειξη παραλαβής για εκτύπωση
edms-instructions = Οδηγίες
edms-outcome = Διεκπεραίωση
edms-outcome-hint = Τι έγινε, π.χ. «Απαντήθηκε με το 5123/2026» ή «Στο αρχείο».
edms-direction-incoming = εισερχόμενο
edms-closed-at = Διεκπεραιώθηκε στις
edms-no-files = Χωρίς αρχεία.
edms-add-file = Προσθήκη αρχείου (π.χ. σχέδιο απάντησης)
edms-add-file-submit = Προσθήκη αρχείου
edms-actions = Ενέργειες
edms-charge-title = Χρέωση σε υπάλληλο
edms-charge-to = Υπάλληλος
edms-choose = Επιλέξτε
edms-charge-submit = Χρέωση
edms-note = Σημείωση
edms-note-submit = Καταγραφή σημείωσης
edms-close-submit = Διεκπεραίωση
edms-return-note = Γιατί επιστρέφεται
edms-return-submit = Επιστροφή στην υπηρεσία
edms-route-note = Σημείωση διαβίβασης (προαιρετικά)
edms-route-submit = Διαβίβαση
edms-history = Διαδρομή
edms-move-registered = Πρωτοκολλήθηκε
edms-move-routed = Διαβιβάστηκε
edms-move-charged = Χρεώθηκε
edms-move-noted = Σημείωση
edms-move-returned = Επιστράφηκε
edms-move-closed = Διεκπεραιώθηκε
edms-move-file-added = Προστέθηκε αρχείο

edms-receipt-title = Απόδειξη παραλαβής εγγράφου
edms-registered-at = Καταχωρίστηκε
edms-receipt-note = Με τον αριθμό πρωτοκόλλου μπορείτε να ρωτήσετε για την πορεία του εγγράφου σας.

edms-search-words = Λέξεις
edms-search-hint = Τόνοι και κεφαλαία δεν μετρούν· κάθε λέξη ταιριάζει και ως αρχή λέξης («κλαδ» βρίσκει «κλάδεμα»).
edms-search-filters = Φίλτρα
edms-year = Έτος
edms-received-from = Παραλήφθηκε από
edms-received-to = Παραλήφθηκε έως
edms-department = Υπηρεσία
edms-any = Οποιαδήποτε
edms-only-confidential = Μόνο εμπιστευτικά
edms-results = Αποτελέσματα

error-field-edms-in-the-future = Η ημερομηνία δεν μπορεί να είναι μετά τη σημερινή
error-field-edms-in-the-past = Η προθεσμία δεν μπορεί να είναι πριν από σήμερα
error-field-edms-file-required = Επισυνάψτε το έγγραφο (τη σάρωση ή το αρχείο του)
error-field-edms-too-many-files = Έως { $detail } αρχεία σε μία καταχώριση
error-field-edms-no-clearance = Δεν έχετε διαβάθμιση για εμπιστευτικά έγγραφα
error-field-edms-person-no-clearance = Ο υπάλληλος δεν έχει διαβάθμιση για εμπιστευτικά έγγραφα
error-field-edms-already-there = Το έγγραφο βρίσκεται ήδη σε αυτή την υπηρεσία
error-conflict-edms-moved-meanwhile = Το έγγραφο άλλαξε θέση στο μεταξύ· δείτε πού βρίσκεται τώρα

edms-permission-approve = Έγκριση εξερχομένων εγγράφων στη σειρά έγκρισης (ο τελευταίος υπογράφει)
edms-draft-title = Σύνταξη εξερχομένου
edms-draft-title-description = Σχέδιο επιστολής, απόφασης ή βεβαίωσης που περνά από τη σειρά έγκρισης, υπογράφεται ψηφιακά, πρωτοκολλείται και αποστέλλεται.
edms-draft-intro = Γράψτε το σχέδιο και ορίστε ποιοι το εγκρίνουν, με τη σειρά. Ο τελευταίος το υπογράφει ψηφιακά· τότε παίρνει αριθμό πρωτοκόλλου (εξερχόμενο) και αποστέλλεται.
edms-draft-caption = Σχέδιο
edms-template = Είδος
edms-template-letter = Έγγραφο (επιστολή)
edms-template-decision = Απόφαση
edms-template-certificate = Βεβαίωση
edms-recipient = Προς
edms-recipient-email = Ηλεκτρονικό ταχυδρομείο του παραλήπτη (προαιρετικά)
edms-recipient-email-hint = Αν το δώσετε, μπορεί να σταλεί ηλεκτρονικά· αλλιώς αποστέλλεται ταχυδρομικά.
edms-draft-body = Κείμενο
edms-draft-body-hint = Μια κενή γραμμή χωρίζει τις παραγράφους.
edms-chain = Σειρά έγκρισης
edms-chain-hint = Για παράδειγμα ο προϊστάμενος, ο διευθυντής και ο δήμαρχος. Ο τελευταίος υπογράφει και πρέπει να έχει δικαίωμα υπογραφής.
edms-approver = { $n }ος/η εγκρίνων/ουσα
edms-nobody = Κανείς
edms-may-sign = υπογράφει
edms-draft-submit = Αποθήκευση σχεδίου
edms-draft-text = Κείμενο
edms-chain-pending = αναμένεται
edms-chain-current = σε αυτόν/ή τώρα
edms-chain-done = ενέκρινε
edms-signs = υπογράφει
edms-verify-code = Κωδικός επαλήθευσης
edms-submit-draft = Αποστολή για έγκριση
edms-edit-draft = Αλλαγές στο σχέδιο
edms-save-draft = Αποθήκευση αλλαγών
edms-comment-optional = Σχόλιο (προαιρετικά)
edms-approve = Έγκριση
edms-approve-and-sign = Έγκριση και ψηφιακή υπογραφή
edms-send-back-why = Τι πρέπει να αλλάξει
edms-send-back = Επιστροφή στον συντάκτη
edms-dispatch = Αποστολή
edms-dispatch-email = Ηλεκτρονικά στο { $to }
edms-dispatch-post = Ταχυδρομικά (σημειώνεται ως απεσταλμένο)
edms-dispatch-submit = Αποστολή
edms-direction-outgoing = εξερχόμενο
edms-not-yet-numbered = Θα δοθεί με την υπογραφή
edms-drafter = Συντάκτης
edms-status-draft = Σχέδιο
edms-status-approval = Σε έγκριση
edms-status-numbered = Πρωτοκολλήθηκε, προς υπογραφή
edms-status-signed = Υπογράφηκε, προς αποστολή
edms-tab-drafts = Τα σχέδιά μου
edms-tab-to-approve = Για έγκριση ή υπογραφή
edms-move-drafted = Συντάχθηκε σχέδιο
edms-move-edited = Άλλαξε το σχέδιο
edms-move-submitted = Στάλθηκε για έγκριση
edms-move-sent-back = Επιστράφηκε στον συντάκτη
edms-move-approved = Εγκρίθηκε
edms-move-signed = Υπογράφηκε ψηφιακά και πρωτοκολλήθηκε
edms-move-dispatched = Αποστάλθηκε
edms-done-drafted = Το σχέδιο αποθηκεύτηκε
edms-done-edited = Οι αλλαγές αποθηκεύτηκαν
edms-done-submitted = Στάλθηκε για έγκριση
edms-done-sent-back = Επιστράφηκε στον συντάκτη
edms-done-approved = Εγκρίθηκε και προχώρησε
edms-done-signed = Υπογράφηκε με αριθμό πρωτοκόλλου { $number }
edms-done-dispatched = Αποστάλθηκε
error-field-edms-last-must-sign = Ο τελευταίος στη σειρά υπογράφει: διαλέξτε κάποιον με δικαίωμα υπογραφής
error-field-edms-may-not-sign = Δεν έχετε δικαίωμα υπογραφής εγγράφων
error-conflict-edms-no-approvers = Το σχέδιο δεν έχει σειρά έγκρισης
error-field-edms-department-no-clearance = Κανείς στην υπηρεσία δεν έχει διαβάθμιση για να χρεώσει εμπιστευτικό έγγραφο
error-conflict-edms-form-used = Αυτή η φόρμα καταχωρίστηκε ήδη για άλλο έγγραφο· ανοίξτε νέα φόρμα πρωτοκόλλησης

## Retention, legal hold
edms-permission-hold = Δέσμευση εγγράφων για νομικούς λόγους (αναστέλλει την εκκαθάριση)
edms-retention-title = Διατήρηση
edms-retention-rule-destroy = Διατηρείται { $years ->
    [one] 1 έτος
   *[other] { $years } έτη
} μετά το έτος διεκπεραίωσης και έπειτα καταστρέφεται.
edms-retention-rule-archive = Διατηρείται { $years ->
    [one] 1 έτος
   *[other] { $years } έτη
} μετά το έτος διεκπεραίωσης και έπειτα μεταφέρεται στο αρχείο.
edms-retention-due = Ημερομηνία εκκαθάρισης: { $date }.
edms-retention-none = Ο τύπος του εγγράφου δεν έχει κανόνα διατήρησης: διατηρείται.
edms-disposed-destroyed = Καταστράφηκε στις { $date }, με τη λήξη του χρόνου διατήρησης. Μένουν ο αριθμός, ο τύπος και οι ημερομηνίες.
edms-disposed-archived = Μεταφέρθηκε στο αρχείο στις { $date }, με τη λήξη του χρόνου διατήρησης.
edms-archive-download = Λήψη του φακέλου αρχείου (ZIP)
edms-hold-on = Σε νομική δέσμευση
edms-hold-why = Αιτιολογία νομικής δέσμευσης
edms-hold-lift-why = Αιτιολογία άρσης της δέσμευσης
edms-hold-place = Νομική δέσμευση
edms-hold-lift = Άρση της δέσμευσης
edms-done-held = Το έγγραφο δεσμεύτηκε: δεν θα εκκαθαριστεί
edms-done-released = Η δέσμευση άρθηκε
edms-move-held = Νομική δέσμευση
edms-move-released = Άρση δέσμευσης

## Exchange (ΙΡΙΔΑ, Διαύγεια)
edms-exchange-title = Διαλειτουργικότητα
edms-exchange-irida-in-done = Παραλήφθηκε μέσω ΙΡΙΔΑ από { $org } (μήνυμα { $id })
edms-exchange-irida-out-queued = Προς αποστολή μέσω ΙΡΙΔΑ στον φορέα { $org }
edms-exchange-irida-out-requested = Παραδόθηκε στην ΙΡΙΔΑ για τον φορέα { $org }· αναμένεται η απόδειξη
edms-exchange-irida-out-done = Αποστάλθηκε μέσω ΙΡΙΔΑ στον φορέα { $org } (αριθμός ΙΡΙΔΑ { $id })
edms-exchange-irida-out-failed = Η ΙΡΙΔΑ δεν το δέχτηκε
edms-exchange-diavgeia-queued = Προς ανάρτηση στη Διαύγεια
edms-exchange-diavgeia-requested = Παραδόθηκε στη Διαύγεια· αναμένεται ο ΑΔΑ
edms-exchange-diavgeia-done = Αναρτήθηκε στη Διαύγεια με ΑΔΑ { $id }
edms-exchange-diavgeia-failed = Η Διαύγεια δεν το δέχτηκε
edms-publish-submit = Ανάρτηση στη Διαύγεια
edms-done-publish = Η απόφαση θα αναρτηθεί στη Διαύγεια
edms-dispatch-exchange = Μέσω ΙΡΙΔΑ σε άλλο φορέα του Δημοσίου
edms-dispatch-organisation = Κωδικός φορέα στην ΙΡΙΔΑ (για αποστολή μέσω ΙΡΙΔΑ)
edms-dispatch-organisation-hint = Όπως τον δίνει η ΙΡΙΔΑ, π.χ. 6011
edms-resend-submit = Νέα αποστολή μέσω ΙΡΙΔΑ
edms-done-resend = Θα σταλεί ξανά μέσω ΙΡΙΔΑ
edms-tab-held = Σε νομική δέσμευση
error-field-edms-approver-role = Σε αυτή τη θέση της σειράς εγκρίνει κάποιος με ρόλο: { $detail }
error-field-edms-approver-extra = Η σειρά έγκρισης του Δήμου για αυτό το είδος εγγράφου δεν έχει άλλη θέση

## Settings page
edms-settings-title = Ρυθμίσεις ηλεκτρονικής διακίνησης εγγράφων
edms-settings-back = Χώρος υπαλλήλων
edms-settings-saved = Οι ρυθμίσεις αποθηκεύτηκαν
edms-setting-deadline-days = Προθεσμία χρέωσης σε ημέρες, όταν ο προϊστάμενος δεν ορίζει ημερομηνία
edms-settings-kinds = Τύποι εγγράφων και διατήρηση
edms-settings-kinds-hint = Για κάθε τύπο: πόσα έτη μετά το έτος διεκπεραίωσης διατηρείται και τι γίνεται έπειτα. Χωρίς έτη, διατηρείται. Για να αφαιρέσετε έναν τύπο, αδειάστε τα πεδία του.
edms-settings-new-kind = Νέος τύπος
edms-setting-kind-id = Κωδικός (λατινικά πεζά, αριθμοί, παύλα)
edms-setting-kind-el = Όνομα στα ελληνικά
edms-setting-kind-en = Όνομα στα αγγλικά
edms-setting-kind-years = Έτη διατήρησης
edms-setting-kind-years-hint = Από 1 έως 100· κενό: διατηρείται
edms-setting-kind-disposal = Μετά τη λήξη
edms-disposal-destroy = Καταστροφή
edms-disposal-archive = Μεταφορά στο αρχείο
edms-settings-chains = Σειρά έγκρισης εξερχομένων
edms-settings-chains-hint = Για κάθε είδος εξερχομένου, οι ρόλοι που εγκρίνουν με τη σειρά· ο τελευταίος υπογράφει. Χωρίς ρόλους, ο συντάκτης επιλέγει.
edms-settings-drafter-chooses = Επιλέγει ο συντάκτης
edms-settings-save = Αποθήκευση
edms-files-kept = Κρατήθηκαν τα αρχεία που επιλέξατε· καταχωρίζονται μαζί με όσα προσθέσετε:
error-field-edms-chain-gap = Η σειρά δεν έχει κενά: συμπληρώστε πρώτα το προηγούμενο βήμα
