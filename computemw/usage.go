package computemw
