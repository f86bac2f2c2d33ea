# Seed tutorial 003, "未加锁的实例".  Unchanged.
#未加锁处理,py2环境下运行,会出现打印数据错乱的情况

#encoding=utf-8

from multiprocessing import Process
import time

def l(num):
  time.sleep(0.2)
  print("Hello Num: %s" % (num))

if __name__ == '__main__':
    for num in range(50):
      Process(target = l, args = (num,)).start()
