example-name = Notice board
example-description = The municipality's notices to residents.
example-empty = There are no notices.
example-permission-publish = Publish notices
