package main

import (
	"io"
	"testing"

	"github.com/gin-gonic/gin"
	"go.uber.org/goleak"

	"github.com/rushws/rushws/examples/internal/chattest"
)

func TestMain(m *testing.M) {
	gin.SetMode(gin.ReleaseMode)
	gin.DefaultWriter = io.Discard // gin.Logger's output
	goleak.VerifyTestMain(m)
}

func TestApp(t *testing.T) {
	chattest.Run(t, newApp)
}
