example-name = Πίνακας ανακοινώσεων
example-description = Ανακοινώσεις του δήμου προς τους δημότες.
example-empty = Δεν υπάρχουν ανακοινώσεις.
example-permission-publish = Δημοσίευση ανακοινώσεων
