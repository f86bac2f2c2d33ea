# Seed tutorial 003, "进程同步(使用Condition)".
# Changed for the test: the main process sleeps 1 s instead of 2 between
# starts (the program relies on each consumer waiting by then).
#encoding=utf-8

import multiprocessing as mp
import threading
import time

def consumer(cond):
  with cond:
    print("consumer before wait")
    cond.wait()            #等待消费,死等
    #cond.wait(timeout=10)  #等待10秒后还未消费自动结束
    print("consumer after wait")

def producer(cond):
  with cond:
    print("producer before notifyAll")
    cond.notify_all()  #通知所有消费者可以消费了
    #cond.notify()     #只能通知一个消费者,想通知几个人就写几次
    print("producer after notifyAll")

if __name__ == '__main__':
  condition = mp.Condition()
  p1 = mp.Process(name = "p1", target = consumer, args=(condition,))
  p2 = mp.Process(name = "p2", target = consumer, args=(condition,))
  p3 = mp.Process(name = "p3", target = producer, args=(condition,))

  p1.start()
  time.sleep(1)
  p2.start()
  time.sleep(1)
  p3.start()
