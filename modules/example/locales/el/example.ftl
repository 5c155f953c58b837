example-name = Πίνακας ανακοινώσεων
example-description = Ανακοινώσεις του δήμου προς τους δημότες.
example-empty = Δεν υπάρχουν ανακοινώσεις.
example-permission-publish = Δημοσίευση ανακοινώσεων
example-request-title = Αίτηση δημοσίευσης ανακοίνωσης
example-request-intro = Ο δήμος απαντά μέσα σε { $days ->
    [one] { $days } ημέρα
   *[other] { $days } ημέρες
}. Μόλις υποβάλετε, παίρνετε αριθμό πρωτοκόλλου.
example-request-notice-title = Τίτλος ανακοίνωσης
example-request-notice-text = Κείμενο ανακοίνωσης
example-request-submit = Υποβολή αίτησης
example-config-greeting = Χαιρετισμός πάνω από τις ανακοινώσεις
example-config-max-notices = Πόσες ανακοινώσεις δείχνει ο πίνακας (1–1000)
