example-name = Notice board
example-description = The municipality's notices to residents.
example-empty = There are no notices.
example-permission-publish = Publish notices
example-request-title = Request to publish a notice
example-request-intro = The municipality answers within { $days ->
    [one] { $days } day
   *[other] { $days } days
}. You will get a protocol number as soon as you submit.
example-request-notice-title = Title of the notice
example-request-notice-text = Text of the notice
example-request-submit = Submit request
example-config-greeting = Greeting above the notices
example-config-max-notices = How many notices the board shows (1–1000)
